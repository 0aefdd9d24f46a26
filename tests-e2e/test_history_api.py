"""The history API from the outside: a workflow's executions (paging, filters, newest first),
one execution and its node timeline, cancel and retry answers, dead letters, tenant scope."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from contracts import topics
from kafka_observer import KafkaObserver
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e
ADMIN = {"X-Admin-Token": "e2e-admin-token"}

WAITS_AN_HOUR = {
    "name": "Follow up",
    "triggerType": "Incoming Message",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        {"id": "wait", "type": "logic", "label": "Wait/Delay", "config": {"duration": "1h"}},
        {"id": "reply", "type": "action", "label": "Send Reply", "config": {"message": "hi"}},
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "wait"},
        {"id": "e2", "source": "wait", "target": "reply"},
    ],
}
# Fails when the trigger's `items` is not a list: a failure that needs nothing but the executor.
LOOPS_OVER_ITEMS = {
    "name": "Tag every item",
    "triggerType": "Incoming Message",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        {
            "id": "loop",
            "type": "logic",
            "label": "Loop",
            "config": {"type": "forEach", "arrayPath": "trigger.items"},
        },
        {"id": "tag", "type": "action", "label": "Add Tag", "config": {"tags": ["x"]}},
        {"id": "done", "type": "action", "label": "Send Reply", "config": {"message": "done"}},
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "loop"},
        {"id": "e2", "source": "loop", "target": "tag", "label": "body"},
        {"id": "e3", "source": "loop", "target": "done", "label": "done"},
    ],
}


async def active_workflow(
    http: httpx.AsyncClient, headers: dict[str, str], wf: dict[str, Any]
) -> str:
    saved = await http.post("/v1/workflows", json=wf, headers=headers)
    assert saved.status_code == 201, saved.text
    workflow_id = str(saved.json()["id"])
    activated = await http.post(f"/v1/workflows/{workflow_id}/activate", headers=headers)
    assert activated.status_code == 200, activated.text
    return workflow_id


async def trigger(http: httpx.AsyncClient, headers: dict[str, str], **payload: Any) -> str:
    accepted = await http.post(
        "/v1/events/incoming_message",
        json={
            "conversation_id": "conv-h",
            "channel": "chat",
            "payload": payload,
            "customer": {"name": "Ada"},
        },
        headers=headers,
    )
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["trigger_id"])


async def execution_in(
    http: httpx.AsyncClient, headers: dict[str, str], trigger_id: str, statuses: set[str]
) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = await http.get(
            "/v1/executions", params={"trigger_id": trigger_id}, headers=headers
        )
        for summary in listed.json()["executions"]:
            if summary["status"] in statuses:
                return dict(summary)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no execution of trigger {trigger_id} in {statuses} within 30s")


async def all_pages(
    http: httpx.AsyncClient, path: str, key: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await http.get(
            path, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert page.status_code == 200, page.text
        items += page.json()[key]
        if (cursor := page.json()["next_cursor"]) is None:
            return items


@pytest.fixture
async def other_tenant(http: httpx.AsyncClient) -> dict[str, str]:
    created = await http.post("/v1/tenants", json={"name": "Other"}, headers=ADMIN)
    return {"Authorization": f"Bearer {created.json()['api_key']}"}


async def test_a_workflows_executions_page_newest_first_and_filter(stack, http, tenant) -> None:
    workflow_id = await active_workflow(http, tenant.headers, greeting_workflow())
    triggers = [await trigger(http, tenant.headers, text=f"m{i}") for i in range(5)]
    executions = [await execution_in(http, tenant.headers, t, {"completed"}) for t in triggers]
    path = f"/v1/workflows/{workflow_id}/executions"
    paged = await all_pages(http, path, "executions", tenant.headers, limit=2)
    assert sorted(e["id"] for e in paged) == sorted(e["id"] for e in executions)
    # compared as instants: an ISO text at a whole second has no fraction and sorts wrongly
    order = [(datetime.fromisoformat(e["created_at"]), e["id"]) for e in paged]
    assert order == sorted(order, reverse=True), "newest first, ties by id"

    completed = await all_pages(http, path, "executions", tenant.headers, status="completed")
    assert len(completed) == 5
    failed = await http.get(path, params={"status": "failed"}, headers=tenant.headers)
    assert failed.json() == {"executions": [], "next_cursor": None}

    third_newest = paged[2]["created_at"]
    since = await all_pages(http, path, "executions", tenant.headers, since=third_newest)
    until = await all_pages(http, path, "executions", tenant.headers, until=third_newest)
    assert [e["id"] for e in since] == [e["id"] for e in paged if e["created_at"] >= third_newest]
    assert [e["id"] for e in until] == [e["id"] for e in paged if e["created_at"] < third_newest]
    assert len(since) >= 3 and len(since) + len(until) == 5
    bad = await http.get(path, params={"cursor": "not-a-cursor"}, headers=tenant.headers)
    assert bad.status_code == 422


async def test_one_execution_and_its_node_timeline(stack, http, tenant) -> None:
    await active_workflow(http, tenant.headers, greeting_workflow())
    summary = await execution_in(
        http, tenant.headers, await trigger(http, tenant.headers, text="refund?"), {"completed"}
    )
    one = (await http.get(f"/v1/executions/{summary['id']}", headers=tenant.headers)).json()
    assert one["status"] == "completed"
    assert (one["totalNodes"], one["executedNodes"], one["failedNodes"]) == (3, 3, 0)
    assert one["executionTimeMs"] == one["execution_time_ms"] >= 0
    assert one["started_at"] and one["finished_at"]
    payload = one["trigger"]["payload"]
    assert payload["text"] == "refund?"  # with the message's classification beside it
    assert payload["classification"]["sentiment"]["label"] == "neutral"
    assert one["variables"]["workflow"]["topic"] == "refund?"
    assert one["error"] is None

    nodes = await all_pages(
        http, f"/v1/executions/{summary['id']}/nodes", "nodes", tenant.headers, limit=3
    )
    assert [(n["node_id"], n["status"]) for n in nodes] == [
        ("t", "completed"),
        ("set", "completed"),
        ("reply", "waiting"),
        ("reply", "completed"),
    ]
    assert [n["seq"] for n in nodes] == [1, 2, 3, 4]
    assert nodes[2]["input"]["message"] == "Hello Ada, about: refund?"
    assert all(n["started_at"] and n["finished_at"] for n in nodes)


async def test_another_tenants_ids_answer_404(stack, http, tenant, other_tenant) -> None:
    workflow_id = await active_workflow(http, tenant.headers, WAITS_AN_HOUR)
    summary = await execution_in(
        http, tenant.headers, await trigger(http, tenant.headers), {"waiting"}
    )
    exe = summary["id"]
    for path in (
        f"/v1/executions/{exe}",
        f"/v1/executions/{exe}/nodes",
        f"/v1/workflows/{workflow_id}/executions",
        f"/v1/workflows/{workflow_id}/versions",
    ):
        assert (await http.get(path, headers=other_tenant)).status_code == 404, path
    for command in ("cancel", "retry"):
        response = await http.post(f"/v1/executions/{exe}/{command}", headers=other_tenant)
        assert response.status_code == 404


async def test_cancel_and_retry_answer_by_the_executions_status(stack, http, tenant) -> None:
    observer = KafkaObserver(stack.kafka, [topics.EXECUTION_COMMANDS])
    await observer.start()
    try:
        await active_workflow(http, tenant.headers, WAITS_AN_HOUR)
        waiting = await execution_in(
            http, tenant.headers, await trigger(http, tenant.headers), {"waiting"}
        )
        retry_waiting = await http.post(
            f"/v1/executions/{waiting['id']}/retry", headers=tenant.headers
        )
        assert retry_waiting.status_code == 409
        cancel = await http.post(
            f"/v1/executions/{waiting['id']}/cancel",
            json={"reason": "customer left"},
            headers=tenant.headers,
        )
        assert cancel.status_code == 202, cancel.text
        [sent] = await observer.wait_for(
            lambda m: (
                m.type == "ExecutionCancelRequested" and m.value["execution_id"] == waiting["id"]
            )
        )
        assert sent.key == waiting["id"]
        assert sent.value["reason"] == "customer left"
        assert sent.value["command_id"] == cancel.json()["command_id"]

        await active_workflow(http, tenant.headers, LOOPS_OVER_ITEMS)
        failed = await execution_in(
            http,
            tenant.headers,
            await trigger(http, tenant.headers, items="not a list"),
            {"failed"},
        )
        assert (
            await http.post(f"/v1/executions/{failed['id']}/cancel", headers=tenant.headers)
        ).status_code == 409
        retry = await http.post(f"/v1/executions/{failed['id']}/retry", headers=tenant.headers)
        assert retry.status_code == 202, retry.text
        [sent] = await observer.wait_for(
            lambda m: (
                m.type == "ExecutionRetryRequested" and m.value["execution_id"] == failed["id"]
            )
        )
        assert sent.key == failed["id"]
        assert sent.headers["tenant_id"] == tenant.tenant_id
    finally:
        await observer.stop()


async def test_completed_execution_cannot_be_cancelled_or_retried(stack, http, tenant) -> None:
    await active_workflow(http, tenant.headers, greeting_workflow())
    done = await execution_in(
        http, tenant.headers, await trigger(http, tenant.headers, text="hi"), {"completed"}
    )
    for command in ("cancel", "retry"):
        response = await http.post(f"/v1/executions/{done['id']}/{command}", headers=tenant.headers)
        assert response.status_code == 409, response.text
        assert "completed" in response.json()["detail"]


async def test_a_poison_message_is_listed_as_a_dead_letter_of_its_tenant(
    stack, http, tenant, other_tenant
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
    await producer.start()
    try:
        marker = f"garbage for {tenant.tenant_id}"
        await producer.send_and_wait(
            topics.INTEGRATION_REQUESTS,
            marker.encode(),
            key=b"exe_poison",
            headers=[
                ("tenant_id", tenant.tenant_id.encode()),
                ("ce_type", b"IntegrationRequested"),
            ],
        )
    finally:
        await producer.stop()
    deadline = time.monotonic() + 30
    mine: list[dict[str, Any]] = []
    while not mine and time.monotonic() < deadline:
        listed = await http.get(
            "/v1/dead-letters", params={"consumer": "integrations"}, headers=tenant.headers
        )
        assert listed.status_code == 200, listed.text
        mine = [d for d in listed.json()["dead_letters"] if d["original_value"] == marker]
        await asyncio.sleep(0.2)
    assert mine, "the poison message was not listed within 30s"
    [dead] = mine
    assert dead["original_topic"] == topics.INTEGRATION_REQUESTS
    assert dead["original_key"] == "exe_poison"
    assert dead["error"] and dead["error_type"]
    assert dead["failed_at"]

    others = await http.get("/v1/dead-letters", headers=other_tenant)
    assert dead["id"] not in [d["id"] for d in others.json()["dead_letters"]]
    by_topic = await all_pages(
        http, "/v1/dead-letters", "dead_letters", ADMIN, topic=topics.INTEGRATION_REQUESTS, limit=1
    )
    assert dead["id"] in [d["id"] for d in by_topic]
    assert (
        await http.get("/v1/dead-letters", headers={"X-Admin-Token": "wrong"})
    ).status_code == 401
