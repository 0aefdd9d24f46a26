"""Preview over HTTP on the running stack: the gateway forwards to the executor, which runs the
refund example in-process with mocks. The answer is what `connectflo preview` prints for the
same input; nothing reaches Kafka or MongoDB; an invalid workflow is 422 naming its node."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from contracts.topics import ALL_TOPICS
from kafka_observer import KafkaObserver

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
REFUND = REPO / "services" / "executor" / "tests" / "golden" / "refund-request"


def refund_preview() -> dict[str, Any]:
    case = json.loads((REFUND / "case.json").read_text())
    return {
        "definition": json.loads((REFUND / "workflow.json").read_text()),
        "trigger": case["trigger"],
        "customer": case["customer"],
        "variables": case["variables"],
        "mocks": {node: [answer] for node, answer in case["mocks"].items()},
    }


def cli_preview(body: dict[str, Any]) -> Any:
    arguments = [sys.executable, "-m", "executor.cli", "preview", str(REFUND / "workflow.json")]
    arguments += ["--trigger-type", body["trigger"]["type"]]
    arguments += ["--payload", json.dumps(body["trigger"]["payload"])]
    arguments += ["--customer", json.dumps(body["customer"])]
    arguments += ["--variables", json.dumps(body["variables"])]
    for node, answers in body["mocks"].items():
        arguments += [a for one in answers for a in ("--mock", f"{node}={json.dumps(one)}")]
    printed = subprocess.run(arguments, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(printed.stdout)


async def test_the_refund_example_previews_as_the_cli_prints_it(stack, http, tenant, mongo) -> None:
    observer = KafkaObserver(
        stack.kafka, [spec.name for spec in ALL_TOPICS], alive=stack.assert_alive
    )
    await observer.start()
    try:
        body = refund_preview()
        response = await http.post("/v1/workflows/preview", json=body, headers=tenant.headers)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report == await asyncio.to_thread(cli_preview, body)
        assert report["status"] == "completed"
        assert [e["kind"] for e in report["effects"]][:2] == [
            "integration.stripe",
            "integration.stripe",
        ]
        await asyncio.sleep(1)  # what a preview published would be on its way by now
        tenants = (tenant.tenant_id, "preview")  # the preview's own execution context says
        ours = [m for m in observer.seen if m.headers.get("tenant_id") in tenants]
        assert ours == []
    finally:
        await observer.stop()
    assert mongo.executions.count_documents({"tenant_id": tenant.tenant_id}) == 0
    assert mongo.workflows.count_documents({"tenant_id": tenant.tenant_id}) == 0


async def test_an_invalid_workflow_is_422_naming_the_node(stack, http, tenant) -> None:
    body = refund_preview()
    body["definition"]["nodes"].append(
        {"id": "fax", "type": "action", "label": "Fax", "config": {}}
    )
    response = await http.post("/v1/workflows/preview", json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:connectflo:problem:invalid-workflow"
    index = len(body["definition"]["nodes"]) - 1
    assert any(
        e["name"] == f"body.definition.nodes[{index}]" and e["node_id"] == "fax"
        for e in problem["errors"]
    ), problem


async def test_without_a_tenants_key_it_is_401(stack, http) -> None:
    response = await http.post("/v1/workflows/preview", json=refund_preview())
    assert response.status_code == 401
