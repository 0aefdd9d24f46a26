"""The walking skeleton from the outside: HTTP in, MongoDB state, events on Kafka."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from contracts import topics
from kafka_observer import KafkaObserver
from stored import stored_run_seqs
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e


async def saved_and_active(
    http: httpx.AsyncClient, headers: dict[str, str], wf: dict[str, Any]
) -> str:
    saved = await http.post("/v1/workflows", json=wf, headers=headers)
    assert saved.status_code == 201, saved.text
    workflow_id: str = saved.json()["id"]
    active = await http.post(f"/v1/workflows/{workflow_id}/activate", headers=headers)
    assert active.status_code == 200, active.text
    assert active.json()["is_active"] is True
    return workflow_id


async def finished_execution(
    http: httpx.AsyncClient, headers: dict[str, str], trigger_id: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = await http.get(
            "/v1/executions", params={"trigger_id": trigger_id}, headers=headers
        )
        assert listed.status_code == 200, listed.text
        for summary in listed.json()["executions"]:
            if summary["status"] in ("completed", "failed"):
                one = await http.get(f"/v1/executions/{summary['id']}", headers=headers)
                assert one.status_code == 200, one.text
                return dict(one.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"no finished execution for trigger {trigger_id} in {timeout}s")


async def test_trigger_runs_linear_workflow_end_to_end(stack, http, mongo, tenant) -> None:
    workflow_id = await saved_and_active(http, tenant.headers, greeting_workflow())
    observer = KafkaObserver(stack.kafka, [topics.EXECUTIONS, topics.NODE_STEPS, topics.REPLIES])
    await observer.start()
    try:
        accepted = await http.post(
            "/v1/events/incoming_message",
            json={
                "conversation_id": "conv-1",
                "channel": "chat",
                "payload": {"text": "where is my order?"},
                "customer": {"id": "c1", "name": "Ada"},
            },
            headers=tenant.headers,
        )
        assert accepted.status_code == 202, accepted.text
        trigger_id = accepted.json()["trigger_id"]

        execution = await finished_execution(http, tenant.headers, trigger_id)
        assert execution["status"] == "completed", execution
        assert execution["workflow_id"] == workflow_id
        assert execution["workflow_version"] == 1
        assert execution["execution_time_ms"] >= 0
        assert execution["executed_nodes"] == 3
        assert execution["total_nodes"] == 3
        assert [(n["node_id"], n["status"]) for n in execution["timeline"]] == [
            ("t", "completed"),
            ("set", "completed"),
            ("reply", "waiting"),  # for the notifier to deliver
            ("reply", "completed"),
        ]
        assert (
            execution["timeline"][2]["input"]["message"] == "Hello Ada, about: where is my order?"
        )
        assert execution["variables"]["workflow"]["topic"] == "where is my order?"

        reply = "Hello Ada, about: where is my order?"
        mine = lambda m: m.value.get("execution_id") == execution["id"]  # noqa: E731
        # The reply is fire-and-forget for the workflow: it completes once the request is
        # durably published; the notifier delivers and records it right after.
        await observer.wait_for(lambda m: mine(m) and m.type == "ReplySent")
        stored = mongo.notifications.find_one({"execution_id": execution["id"]})
        assert stored is not None and stored["status"] == "delivered"
        assert stored["message"] == reply
        # one command: its runs are stored in the new execution's own document
        assert stored_run_seqs(mongo, {"_id": execution["id"]}) == {execution["id"]: [1, 2, 3, 4]}
        await observer.wait_for(lambda m: mine(m) and m.type == "ExecutionCompleted")
        runs, steps = await observer.steps(execution["id"], count=4)
        assert [s["node_id"] for s in runs] == ["t", "set", "reply", "reply"]
        assert [s["seq"] for s in runs] == [1, 2, 3, 4]
        started = await observer.wait_for(lambda m: mine(m) and m.type == "ExecutionStarted")
        replies = await observer.wait_for(lambda m: mine(m) and m.type == "ReplySent")
        assert replies[0].value["message"] == reply
        assert replies[0].key == "conv-1"
        for message in (*steps, *started, *replies):
            assert message.key in (execution["id"], "conv-1")
            assert message.headers["ce_specversion"] == "1.0"
            assert message.headers["tenant_id"] == tenant.tenant_id
            assert message.headers["traceparent"].startswith("00-")
        trace_ids = {m.headers["traceparent"].split("-")[1] for m in (*steps, *replies)}
        assert len(trace_ids) == 1, "one trace from the gateway through executor and notifier"
    finally:
        await observer.stop()


async def test_same_event_id_runs_once(stack, http, tenant) -> None:
    await saved_and_active(http, tenant.headers, greeting_workflow())
    body = {"event_id": "provider-evt-1", "payload": {"text": "hi"}, "channel": "chat"}
    first = await http.post("/v1/events/incoming_message", json=body, headers=tenant.headers)
    second = await http.post("/v1/events/incoming_message", json=body, headers=tenant.headers)
    assert first.status_code == 202
    assert second.status_code == 200 and second.json()["duplicate"] is True
    assert second.json()["trigger_id"] == first.json()["trigger_id"]
    await finished_execution(http, tenant.headers, first.json()["trigger_id"])
    listed = await http.get(
        "/v1/executions", params={"trigger_id": first.json()["trigger_id"]}, headers=tenant.headers
    )
    assert len(listed.json()["executions"]) == 1


async def test_another_tenants_execution_is_not_found(stack, http, tenant) -> None:
    await saved_and_active(http, tenant.headers, greeting_workflow())
    accepted = await http.post(
        "/v1/events/incoming_message",
        json={"payload": {"text": "hi"}, "channel": "chat"},
        headers=tenant.headers,
    )
    execution = await finished_execution(http, tenant.headers, accepted.json()["trigger_id"])
    other = await http.post(
        "/v1/tenants", json={"name": "Other"}, headers={"X-Admin-Token": "e2e-admin-token"}
    )
    other_headers = {"Authorization": f"Bearer {other.json()['api_key']}"}
    response = await http.get(f"/v1/executions/{execution['id']}", headers=other_headers)
    assert response.status_code == 404
