"""The history API's routes: tenant scope, the execution's fields, paging, cancel and retry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from contracts import Envelope, topics

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def execution(gw, execution_id: str, status: str = "completed", minutes: int = 0, **extra) -> None:
    gw.executions.docs[execution_id] = {
        "_id": execution_id,
        "tenant_id": "ten_a",
        "workflow_id": "wf_1",
        "workflow_version": 1,
        "status": status,
        "created_at": T0 + timedelta(minutes=minutes),
        "total_nodes": 3,
        "executed_nodes": 2,
        "failed_nodes": 1,
        "execution_time_ms": 42,
        "trigger_json": json.dumps({"payload": {"a.b": 1}, "customer": None}),
        "variables_json": json.dumps({"workflow": {"x": 1}}),
        "version": 5,
        **extra,
    }


def node_ids_page_by_page(gw, execution_id: str) -> list[str]:
    """The timeline through `/nodes`, two runs a page, following the cursors."""
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = gw.client.get(
            f"/v1/executions/{execution_id}/nodes", params=params, headers=gw.as_tenant()
        )
        seen += [n["node_id"] for n in page.json()["nodes"]]
        if (cursor := page.json()["next_cursor"]) is None:
            return seen


@pytest.fixture
def wf(gw) -> str:
    gw.workflows.workflows["wf_1"] = {
        "_id": "wf_1",
        "tenant_id": "ten_a",
        "name": "W",
        "trigger_type": "Incoming Message",
        "is_active": True,
        "latest_version": 1,
        "active_version": 1,
        "created_at": T0,
    }
    return "wf_1"


def test_one_execution_has_counters_in_both_spellings_and_decoded_payloads(gw) -> None:
    execution(gw, "exe_1", error={"node_id": "n", "message": "boom"})
    run = {"seq": 1, "node_id": "t", "status": "completed", "input": {"k.1": [1]}}
    gw.executions.runs.append(
        {
            "execution_id": "exe_1",
            "seq": 1,
            "last_seq": 1,
            "runs_json": json.dumps([{**run, "started_at": "2026-03-01T10:00:00.5+00:00"}]),
        }
    )
    body = gw.client.get("/v1/executions/exe_1", headers=gw.as_tenant()).json()
    assert (body["totalNodes"], body["executedNodes"], body["failedNodes"]) == (3, 2, 1)
    assert body["executionTimeMs"] == body["execution_time_ms"] == 42
    assert body["trigger"]["payload"] == {"a.b": 1}
    assert body["variables"] == {"workflow": {"x": 1}}
    assert body["error"]["message"] == "boom"
    assert body["timeline"][0]["input"] == {"k.1": [1]}
    assert body["timeline"][0]["started_at"] == "2026-03-01T10:00:00.500000Z"
    assert body["timeline_truncated"] is False
    assert body["nodes_url"] == "http://gw.test/v1/executions/exe_1/nodes"


def test_another_tenants_execution_is_404_everywhere(gw) -> None:
    execution(gw, "exe_1", status="running")
    other = gw.as_tenant("key-b")
    assert gw.client.get("/v1/executions/exe_1", headers=other).status_code == 404
    assert gw.client.get("/v1/executions/exe_1/nodes", headers=other).status_code == 404
    for command in ("cancel", "retry"):
        assert gw.client.post(f"/v1/executions/exe_1/{command}", headers=other).status_code == 404
    assert gw.broker.published == []


def test_node_timeline_pages_in_run_order_across_both_stored_shapes(gw) -> None:
    execution(gw, "exe_1")
    # one document per run (an earlier version), then one per command with several runs
    gw.executions.runs += [
        {"execution_id": "exe_1", "seq": s, "node_id": f"n{s}", "input_json": "{}"} for s in (1, 2)
    ]
    runs = [{"seq": s, "node_id": f"n{s}", "input": {}} for s in (3, 4, 5)]
    gw.executions.runs.append(
        {"execution_id": "exe_1", "seq": 3, "last_seq": 5, "runs_json": json.dumps(runs)}
    )
    assert node_ids_page_by_page(gw, "exe_1") == ["n1", "n2", "n3", "n4", "n5"]


def test_node_timeline_starts_with_the_runs_written_in_the_execution_itself(gw) -> None:
    first = [{"seq": s, "node_id": f"n{s}", "input": {}} for s in (1, 2)]
    execution(gw, "exe_1", first_runs_json=json.dumps(first), first_runs_last_seq=2)
    later = [{"seq": s, "node_id": f"n{s}", "input": {}} for s in (3, 4, 5)]
    gw.executions.runs.append(
        {"execution_id": "exe_1", "seq": 3, "last_seq": 5, "runs_json": json.dumps(later)}
    )
    body = gw.client.get("/v1/executions/exe_1", headers=gw.as_tenant()).json()
    assert [n["node_id"] for n in body["timeline"]] == ["n1", "n2", "n3", "n4", "n5"]
    assert node_ids_page_by_page(gw, "exe_1") == ["n1", "n2", "n3", "n4", "n5"]


def test_workflow_executions_newest_first_with_paging_and_status(gw, wf) -> None:
    for i, status in enumerate(["completed", "failed", "completed", "waiting"]):
        execution(gw, f"exe_{i}", status=status, minutes=i)
    first = gw.client.get(
        f"/v1/workflows/{wf}/executions", params={"limit": 3}, headers=gw.as_tenant()
    ).json()
    assert [e["id"] for e in first["executions"]] == ["exe_3", "exe_2", "exe_1"]
    rest = gw.client.get(
        f"/v1/workflows/{wf}/executions",
        params={"limit": 3, "cursor": first["next_cursor"]},
        headers=gw.as_tenant(),
    ).json()
    assert [e["id"] for e in rest["executions"]] == ["exe_0"] and rest["next_cursor"] is None
    failed = gw.client.get(
        f"/v1/workflows/{wf}/executions", params={"status": "failed"}, headers=gw.as_tenant()
    ).json()
    assert [e["id"] for e in failed["executions"]] == ["exe_1"]
    unknown = gw.client.get(
        f"/v1/workflows/{wf}/executions", params={"status": "exploded"}, headers=gw.as_tenant()
    )
    assert unknown.status_code == 422


@pytest.mark.parametrize("status", ["created", "running", "waiting"])
def test_cancel_publishes_the_command_keyed_by_execution(gw, status) -> None:
    execution(gw, "exe_1", status=status)
    response = gw.client.post(
        "/v1/executions/exe_1/cancel", json={"reason": "customer left"}, headers=gw.as_tenant()
    )
    assert response.status_code == 202, response.text
    [sent] = gw.broker.published
    assert (sent["topic"], sent["key"]) == (topics.EXECUTION_COMMANDS, b"exe_1")
    command = Envelope.parse(sent["headers"], sent["value"]).data
    assert command.event_type == "ExecutionCancelRequested"
    assert command.reason == "customer left" and command.tenant_id == "ten_a"
    assert response.json()["command_id"] == command.command_id


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_cancel_of_a_finished_execution_is_409(gw, status) -> None:
    execution(gw, "exe_1", status=status)
    response = gw.client.post("/v1/executions/exe_1/cancel", headers=gw.as_tenant())
    assert response.status_code == 409
    assert status in response.json()["detail"]
    assert gw.broker.published == []


def test_retry_of_a_failed_execution_publishes_the_command(gw) -> None:
    execution(gw, "exe_1", status="failed")
    response = gw.client.post("/v1/executions/exe_1/retry", headers=gw.as_tenant())
    assert response.status_code == 202
    [sent] = gw.broker.published
    command = Envelope.parse(sent["headers"], sent["value"]).data
    assert command.event_type == "ExecutionRetryRequested"
    assert command.command_id == "retry:exe_1:5"


def test_a_retry_after_another_failure_is_a_new_command(gw) -> None:
    execution(gw, "exe_1", status="failed")
    gw.client.post("/v1/executions/exe_1/retry", headers=gw.as_tenant())
    gw.executions.docs["exe_1"]["version"] = 9  # retried, failed again
    gw.client.post("/v1/executions/exe_1/retry", headers=gw.as_tenant())
    ids = [Envelope.parse(s["headers"], s["value"]).data.command_id for s in gw.broker.published]
    assert len(set(ids)) == 2


@pytest.mark.parametrize("status", ["completed", "running", "waiting", "cancelled"])
def test_retry_of_an_execution_that_did_not_fail_is_409(gw, status) -> None:
    execution(gw, "exe_1", status=status)
    response = gw.client.post("/v1/executions/exe_1/retry", headers=gw.as_tenant())
    assert response.status_code == 409
    assert gw.broker.published == []
