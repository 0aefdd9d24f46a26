"""The watchdog on the real stack: an execution the trigger intake created whose start command
was lost is started by the watchdog, and one that can never start (its trigger matches no
trigger node of its workflow, the case the intake stores as created and dead-letters the
start of) is failed with an incident naming the reason; both are listed, with their reasons,
at GET /v1/watchdog/findings and counted on the scheduler's /metrics."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

import httpx
import pytest
from conftest import SERVICES, Stack, TenantApi
from executor.adapters.execution_documents import new_execution
from executor.adapters.store import ExecutionRepository
from prometheus_client.parser import text_string_to_metric_families
from servicekit.mongo import Mongo

pytestmark = pytest.mark.e2e

NOTED = {
    "name": "Noted",
    "triggerType": "Incoming Message",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        {
            "id": "set",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.noted", "value": "{{trigger.text}}"},
        },
    ],
    "edges": [{"id": "e1", "source": "t", "target": "set"}],
}


async def created_without_start(stack: Stack, workflow: dict[str, Any], tenant_id: str) -> str:
    """An execution stored as the executor's intake stores a new one (same document, same
    slots), whose start command never comes."""
    execution_id = "exe_" + secrets.token_hex(12)
    mongo = Mongo.connect(stack.mongo_uri, stack.database)
    try:
        executions = ExecutionRepository(
            mongo.db, watch_bucket_seconds=int(stack.env["CONNECTFLO_WATCH_BUCKET_SECONDS"])
        )
        created = await executions.create(
            new_execution(
                execution_id=execution_id,
                tenant_id=tenant_id,
                workflow=workflow,
                version=int(workflow["active_version"]),
                trigger_id="trg_" + secrets.token_hex(8),
                trigger_json=json.dumps({"payload": {"text": "lost"}, "customer": None}),
                conversation_id=None,
                channel="chat",
            )
        )
        assert created
    finally:
        await mongo.close()
    return execution_id


async def finished(api: TenantApi, execution_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        api.stack.assert_alive()
        got = await api.http.get(f"/v1/executions/{execution_id}", headers=api.tenant.headers)
        assert got.status_code == 200, got.text
        if got.json()["status"] in ("completed", "failed"):
            return dict(got.json())
        await asyncio.sleep(0.2)
    raise AssertionError(f"execution {execution_id} did not finish in {timeout}s")


async def findings_total(http: httpx.AsyncClient, kind: str, action: str) -> float:
    answer = await http.get(f"http://127.0.0.1:{SERVICES['scheduler'].port}/metrics")
    labels = {"kind": kind, "action": action}
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "connectflo_watchdog_findings_total" and sample.labels == labels
    )


async def test_the_watchdog_starts_a_lost_start_and_fails_what_cannot_start(
    api: TenantApi, stack: Stack, mongo: Any
) -> None:
    workflow_id = await api.activate(NOTED)
    workflow = mongo.workflows.find_one({"_id": workflow_id})
    before = await findings_total(api.http, "not_started", "resend")
    lost = await created_without_start(stack, workflow, api.tenant.tenant_id)
    unstartable = await created_without_start(
        stack, {**workflow, "trigger_type": "New Order"}, api.tenant.tenant_id
    )

    started = await finished(api, lost)
    assert started["status"] == "completed" and started["variables"]["workflow"]["noted"] == "lost"
    assert started["watchdog"]["finding"] == "not_started"
    assert "start command was lost" in started["watchdog"]["reason"]

    failed = await finished(api, unstartable)
    assert failed["status"] == "failed" and failed["incident"]["status"] == "open"
    message = failed["incident"]["message"]
    assert message.startswith("watchdog: created and no command applied for ")
    assert "it cannot start" in message and "New Order" in message
    assert failed["error"]["message"] == message

    listed = await api.http.get("/v1/watchdog/findings", headers=api.tenant.headers)
    assert listed.status_code == 200, listed.text
    by_execution = {f["execution_id"]: f for f in listed.json()["findings"]}
    assert set(by_execution) == {lost, unstartable}
    for finding in by_execution.values():
        assert (finding["kind"], finding["action"]) == ("not_started", "resend")
        assert finding["execution_status"] == "created" and finding["execution_version"] == 0
        assert "start command was lost or dead-lettered" in finding["reason"]
    one = await api.http.get(
        "/v1/watchdog/findings", params={"execution_id": lost}, headers=api.tenant.headers
    )
    assert [f["execution_id"] for f in one.json()["findings"]] == [lost]
    assert await findings_total(api.http, "not_started", "resend") >= before + 2
    # the watchdog leaves finished executions alone: no second finding comes
    await asyncio.sleep(4)
    again = await api.http.get("/v1/watchdog/findings", headers=api.tenant.headers)
    assert len(again.json()["findings"]) == 2
