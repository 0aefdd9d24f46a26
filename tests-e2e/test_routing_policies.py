"""Routing policies on the real stack: what a customer's message does while the conversation's
run of the workflow is busy (here: in a 2-second Wait/Delay, a real timer of the scheduler),
under each policy, and a burst of messages merged into one reply."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from conftest import TenantApi

pytestmark = pytest.mark.e2e


def busy_then_asking(policy: str, burst: float = 3.0, busy: float = 2) -> dict[str, Any]:
    nodes = [
        {
            "id": "t",
            "type": "trigger",
            "label": "Incoming Message",
            "config": {"whileRunning": policy, "burstSeconds": burst},
        },
        {"id": "busy", "type": "logic", "label": "Wait/Delay", "config": {"duration": busy}},
        {"id": "wait", "type": "advanced", "label": "Wait for Reply", "config": {}},
        {
            "id": "echo",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.got", "value": "{{workflow.reply.text}}"},
        },
    ]
    edges = [
        {"id": "e1", "source": "t", "target": "busy"},
        {"id": "e2", "source": "busy", "target": "wait"},
        {"id": "e3", "source": "wait", "target": "echo"},
    ]
    return {"name": policy, "triggerType": "Incoming Message", "nodes": nodes, "edges": edges}


async def executions_of(api: TenantApi, trigger_id: str) -> list[dict[str, Any]]:
    listed = await api.http.get(
        "/v1/executions", params={"trigger_id": trigger_id}, headers=api.tenant.headers
    )
    executions: list[dict[str, Any]] = listed.json()["executions"]
    return executions


async def handled(http: httpx.AsyncClient, api: TenantApi, trigger_id: str) -> dict[str, Any]:
    """GET /v1/triggers/{id} once the executor has handled the trigger."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = await http.get(f"/v1/triggers/{trigger_id}", headers=api.tenant.headers)
        if answer.status_code == 200:
            body: dict[str, Any] = answer.json()
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"trigger {trigger_id} not handled in 30 s")


async def test_queue_the_busy_run_takes_the_burst_at_its_next_wait(
    api: TenantApi, http: httpx.AsyncClient
) -> None:
    await api.activate(busy_then_asking("queue"))
    first = await api.message("hello", conversation_id="q1")
    await handled(http, api, first)
    second = await api.message("order 42", conversation_id="q1")
    await api.message("it is late", conversation_id="q1")

    done = await api.finished_execution(first, timeout=30)

    assert done["status"] == "completed"
    assert done["variables"]["workflow"]["got"] == "order 42\nit is late"  # merged
    assert await executions_of(api, second) == []  # no run of their own
    outcome = await handled(http, api, second)
    assert outcome["queued"] == [done["id"]]


async def test_interrupt_cancels_the_busy_run_and_starts_anew(
    api: TenantApi, http: httpx.AsyncClient
) -> None:
    # busy for longer than a slow moment of the machine between the two messages: the second
    # must find the first run in its Wait/Delay, not already at its Wait for Reply
    await api.activate(busy_then_asking("interrupt", busy=8))
    first = await api.message("hello", conversation_id="i1")
    await handled(http, api, first)
    second = await api.message("start over", conversation_id="i1")

    outcome = await handled(http, api, second)
    (old,) = await executions_of(api, first)
    assert outcome["interrupted"] == [old["id"]]
    deadline = time.monotonic() + 30
    while (await executions_of(api, first))[0]["status"] != "cancelled":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    (new,) = await executions_of(api, second)
    assert new["status"] in ("running", "waiting")


@pytest.mark.parametrize("policy", ["parallel", "resume"])
async def test_a_busy_run_does_not_hold_the_message_under(
    api: TenantApi, http: httpx.AsyncClient, policy: str
) -> None:
    await api.activate(busy_then_asking(policy))
    first = await api.message("hello", conversation_id=f"{policy}-1")
    await handled(http, api, first)
    second = await api.message("again", conversation_id=f"{policy}-1")

    await handled(http, api, second)
    assert len(await executions_of(api, first)) == 1
    assert len(await executions_of(api, second)) == 1  # a run of its own
