"""The executor's durable runtime from the outside: sub-workflows, versions, waits for the
customer's reply, retry back-off, incidents retried through the API, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from connections import connect
from contracts import topics
from kafka_observer import KafkaObserver

pytestmark = pytest.mark.e2e
TRIGGER = {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}}


def flow(name: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    """A linear workflow trigger -> nodes..., in the builder's format."""
    chain = [TRIGGER, *nodes]
    return {
        "name": name,
        "triggerType": "Incoming Message",
        "nodes": chain,
        "edges": [
            {"id": f"e{i}", "source": a["id"], "target": b["id"]}
            for i, (a, b) in enumerate(itertools.pairwise(chain))
        ],
    }


def reply(node_id: str, message: str) -> dict[str, Any]:
    return {"id": node_id, "type": "action", "label": "Send Reply", "config": {"message": message}}


async def save(
    http: httpx.AsyncClient, headers: dict[str, str], wf: dict[str, Any], *, active: bool = True
) -> str:
    saved = await http.post("/v1/workflows", json=wf, headers=headers)
    assert saved.status_code == 201, saved.text
    workflow_id: str = saved.json()["id"]
    if active:
        activated = await http.post(f"/v1/workflows/{workflow_id}/activate", headers=headers)
        assert activated.status_code == 200, activated.text
    return workflow_id


async def trigger(
    http: httpx.AsyncClient, headers: dict[str, str], conversation: str, text: str
) -> str:
    response = await http.post(
        "/v1/events/incoming_message",
        json={
            "conversation_id": conversation,
            "channel": "chat",
            "payload": {"text": text},
            "customer": {"name": "Ada"},
        },
        headers=headers,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["trigger_id"])


async def execution_of(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    trigger_id: str,
    *statuses: str,
    timeout: float = 60,
) -> dict[str, Any]:
    """The execution a trigger started, once it reached one of ``statuses``."""
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        listed = await http.get(
            "/v1/executions", params={"trigger_id": trigger_id}, headers=headers
        )
        for summary in listed.json()["executions"]:
            seen = summary
            if summary["status"] in statuses:
                one = await http.get(f"/v1/executions/{summary['id']}", headers=headers)
                return dict(one.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"trigger {trigger_id} never reached {statuses}; last seen {seen}")


async def test_sub_workflow_result_is_merged_into_the_parent(stack, http, tenant) -> None:
    child = flow(
        "child",
        {
            "id": "answer",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.answer", "value": "{{workflow.question}} -> 42"},
        },
    )
    child_id = await save(http, tenant.headers, child, active=False)
    parent = flow(
        "parent",
        {
            "id": "sub",
            "type": "advanced",
            "label": "Execute Workflow",
            "config": {
                "workflowId": child_id,
                "input": {"question": "{{trigger.text}}"},
                "outputVariable": "child",
            },
        },
        reply("r", "child said {{workflow.child.answer}}"),
    )
    await save(http, tenant.headers, parent)
    trigger_id = await trigger(http, tenant.headers, "sub-1", "meaning?")
    done = await execution_of(http, tenant.headers, trigger_id, "completed", "failed")
    assert done["status"] == "completed", done
    assert done["variables"]["workflow"]["child"]["answer"] == "meaning? -> 42"
    (sent,) = [n for n in done["timeline"] if n["node_id"] == "r" and n["status"] == "waiting"]
    assert sent["input"]["message"] == "child said meaning? -> 42"


async def test_old_executions_finish_on_their_version_after_a_new_one_is_published(
    stack, http, tenant
) -> None:
    v1 = flow(
        "versioned",
        {"id": "ask", "type": "advanced", "label": "Wait for Reply", "config": {}},
        reply("r", "v1 got {{workflow.reply.text}}"),
    )
    workflow_id = await save(http, tenant.headers, v1)
    waiting = [await trigger(http, tenant.headers, f"ver-{i}", "hello") for i in range(3)]
    for trigger_id in waiting:
        assert (await execution_of(http, tenant.headers, trigger_id, "waiting"))[
            "workflow_version"
        ] == 1

    v2 = flow("versioned", *v1["nodes"][1:2], reply("r", "v2 got {{workflow.reply.text}}"))
    published = await http.put(f"/v1/workflows/{workflow_id}", json=v2, headers=tenant.headers)
    assert published.status_code in (200, 201), published.text
    activated = await http.post(
        f"/v1/workflows/{workflow_id}/activate", json={"version": 2}, headers=tenant.headers
    )
    assert activated.status_code == 200, activated.text

    for i, trigger_id in enumerate(waiting):  # the customers answer: old executions resume
        await trigger(http, tenant.headers, f"ver-{i}", f"answer {i}")
        done = await execution_of(http, tenant.headers, trigger_id, "completed")
        assert done["workflow_version"] == 1
        (sent,) = [n for n in done["timeline"] if n["node_id"] == "r" and n["status"] == "waiting"]
        assert sent["input"]["message"] == f"v1 got answer {i}"
    fresh = await trigger(http, tenant.headers, "ver-new", "hi")
    assert (await execution_of(http, tenant.headers, fresh, "waiting"))["workflow_version"] == 2


async def test_retry_back_off_then_incident_then_retry_from_the_failed_node(
    stack, http, tenant
) -> None:
    wf = flow(
        "lookup",
        {
            "id": "shop",
            "type": "integration",
            "label": "Shopify",
            "config": {
                "action": "getOrder",
                "orderId": "{{trigger.text}}",
                "outputVariable": "order",
                "retry": {"maxAttempts": 3, "backoffSeconds": 1, "backoffMultiplier": 2},
            },
        },
        reply("r", "order {{workflow.order.echo.orderId}}"),
    )
    await save(http, tenant.headers, wf)
    observer = KafkaObserver(stack.kafka, [topics.INTEGRATION_REQUESTS])
    await observer.start()
    try:
        trigger_id = await trigger(http, tenant.headers, "retry-1", "1042")
        failed = await execution_of(http, tenant.headers, trigger_id, "failed", timeout=90)
        mine = lambda m: m.value.get("execution_id") == failed["id"]  # noqa: E731
        seen = await observer.wait_for(mine, count=3)
        # At-least-once: a request may be published twice; it is the same request (same key).
        first_by_key: dict[str, datetime] = {}
        for message in seen:
            sent_at = datetime.fromisoformat(message.headers["ce_time"])
            first_by_key.setdefault(message.value["idempotency_key"], sent_at)
        assert len(first_by_key) == 3, sorted(first_by_key)  # three attempts, three keys
        sent = sorted(first_by_key.values())
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(sent)]
        assert gaps[0] >= 1.0 and gaps[1] >= 2.0, gaps  # back-off 1 s, then 2 s
        assert failed["error"]["node_id"] == "shop"

        await connect(http, tenant.headers, "shopify", mode="echo")
        retried = await http.post(f"/v1/executions/{failed['id']}/retry", headers=tenant.headers)
        assert retried.status_code == 202, retried.text
        done = await execution_of(http, tenant.headers, trigger_id, "completed")
        assert done["variables"]["workflow"]["order"]["echo"]["orderId"] == "1042"
    finally:
        await observer.stop()


async def test_wait_for_reply_times_out_and_cancel_stops_a_waiting_execution(
    stack, http, tenant
) -> None:
    wf = {
        **flow(
            "ask",
            {
                "id": "ask",
                "type": "advanced",
                "label": "Wait for Reply",
                "config": {"timeoutSeconds": 2},
            },
        ),
    }
    wf["nodes"].append(reply("late", "still there?"))
    wf["edges"].append({"id": "et", "source": "ask", "target": "late", "label": "timeout"})
    await save(http, tenant.headers, wf)
    timed_out = await trigger(http, tenant.headers, "quiet-1", "hello")
    done = await execution_of(http, tenant.headers, timed_out, "completed", timeout=60)
    assert [n["port"] for n in done["timeline"] if n["node_id"] == "ask"][-1] == "timeout"

    cancelled = await trigger(http, tenant.headers, "quiet-2", "hello")
    waiting = await execution_of(http, tenant.headers, cancelled, "waiting")
    response = await http.post(f"/v1/executions/{waiting['id']}/cancel", headers=tenant.headers)
    assert response.status_code == 202, response.text
    stopped = await execution_of(http, tenant.headers, cancelled, "cancelled")
    assert stopped["status"] == "cancelled"
    await asyncio.sleep(3)  # the reply timeout would have fired by now: it was cancelled
    after = await http.get(f"/v1/executions/{waiting['id']}", headers=tenant.headers)
    assert after.json()["status"] == "cancelled"
