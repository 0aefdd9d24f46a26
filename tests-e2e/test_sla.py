"""SLA clocks on the real stack: a breach in business hours starts the SLA workflows (at risk,
then breached) and shows on the conversation; none outside business hours; the clock paused
while the conversation waits on the customer, running again once the customer writes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import ADMIN_TOKEN, Tenant, TenantApi

ALL_DAY = {
    day: [{"start": "00:00", "end": "24:00"}]
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def tagging(trigger: str, policy: str, tag: str) -> dict[str, Any]:
    return {
        "name": f"{trigger}: tag",
        "triggerType": trigger,
        "nodes": [
            {"id": "t", "type": "trigger", "label": trigger, "config": {"policy": policy}},
            {"id": "tag", "type": "action", "label": "Add Tag", "config": {"tags": [tag]}},
        ],
        "edges": [{"id": "e", "source": "t", "target": "tag"}],
    }


async def policy(api: TenantApi, **spec: Any) -> dict[str, Any]:
    made = await api.http.post("/v1/sla-policies", json=spec, headers=api.tenant.headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def sla_of(api: TenantApi, conversation_id: str) -> dict[str, Any]:
    got = await api.http.get(f"/v1/conversations/{conversation_id}/sla", headers=api.tenant.headers)
    assert got.status_code == 200, got.text
    return dict(got.json())


def clock(sla: dict[str, Any], metric: str) -> dict[str, Any]:
    return next(c for c in sla["clocks"] if c["metric"] == metric)


async def conversation(api: TenantApi, conversation_id: str) -> dict[str, Any]:
    got = await api.http.get(f"/v1/conversations/{conversation_id}", headers=api.tenant.headers)
    assert got.status_code == 200, got.text
    return dict(got.json())


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_breach_in_business_hours_starts_the_sla_workflows_and_shows_on_the_conversation(
    api: TenantApi,
) -> None:
    await api.activate(tagging("SLA At Risk", "first_response", "sla-at-risk"))
    await api.activate(tagging("SLA Breached", "first_response", "sla-breached"))
    made = await policy(
        api,
        name="Chat first response",
        channels=["chat"],
        targets=[{"metric": "first_response", "seconds": 3}],
        at_risk_fraction=0.5,
        business_hours={"timezone": "Europe/Berlin", "weekly": ALL_DAY},
    )
    sent_at = datetime.now(UTC)
    await api.message("Is anybody there?", conversation_id="sla-1")

    tagged = await until(
        lambda: _tags_include(api, "sla-1", {"sla-at-risk", "sla-breached"}), 20, "both tags"
    )
    assert tagged
    sla = await sla_of(api, "sla-1")
    first = clock(sla, "first_response")
    assert sla["policy_id"] == made["id"] and first["state"] == "breached"
    assert first["target_seconds"] == 3 and first["overrun_seconds"] > 0
    due = datetime.fromisoformat(first["due_at"])
    assert timedelta(seconds=2.5) < due - sent_at < timedelta(seconds=4)


async def test_no_breach_outside_business_hours(http: Any, stack: Any) -> None:
    created = await http.post(
        "/v1/tenants", json={"name": "Closed shop"}, headers={"X-Admin-Token": ADMIN_TOKEN}
    )
    assert created.status_code == 201, created.text
    api = TenantApi(http, Tenant(created.json()["tenant_id"], created.json()["api_key"]), stack)
    await api.activate(tagging("SLA Breached", "first_response", "sla-breached"))
    today = datetime.now(UTC).date()
    closed = [str(today + timedelta(days=d)) for d in (-1, 0, 1)]  # whatever the zone's date
    await policy(
        api,
        name="Office hours",
        targets=[{"metric": "first_response", "seconds": 2}],
        business_hours={"timezone": "UTC", "weekly": ALL_DAY, "closed_dates": closed},
    )
    await api.message("Hello, after hours", conversation_id="sla-2")
    await asyncio.sleep(5)

    first = clock(await sla_of(api, "sla-2"), "first_response")
    assert (first["state"], first["paused_because"]) == ("paused", "outside business hours")
    assert first["elapsed_seconds"] == 0
    assert "sla-breached" not in (await conversation(api, "sla-2")).get("tags", [])
    runs = await http.get("/v1/executions", params={"limit": 50}, headers=api.tenant.headers)
    assert runs.status_code == 200 and runs.json()["executions"] == []


async def test_the_clock_pauses_while_waiting_on_the_customer(api: TenantApi) -> None:
    await api.activate(tagging("SLA Breached", "resolution", "resolution-breached"))
    await policy(
        api,
        name="Resolution",
        targets=[{"metric": "resolution", "seconds": 4}],
        pause_while_waiting_on_customer=True,
    )
    await api.message("My order is late", conversation_id="sla-3")
    await until(lambda: _exists(api, "sla-3"), 10, "the conversation")
    waiting = await api.http.patch(
        "/v1/conversations/sla-3",
        json={"status": "waiting_on_customer"},
        headers=api.tenant.headers,
    )
    assert waiting.status_code == 200, waiting.text
    await asyncio.sleep(6)  # more than the target, all of it waiting on the customer

    resolution = clock(await sla_of(api, "sla-3"), "resolution")
    assert (resolution["state"], resolution["paused_because"]) == (
        "paused",
        "waiting on the customer",
    )
    assert resolution["elapsed_seconds"] < 2.5
    assert "resolution-breached" not in (await conversation(api, "sla-3")).get("tags", [])

    resumed_at = time.monotonic()
    await api.message("Any news?", conversation_id="sla-3")  # the customer answered
    await until(
        lambda: _tags_include(api, "sla-3", {"resolution-breached"}), 20, "the resolution breach"
    )
    # the rest of the four seconds after the customer wrote, plus the keeper's look
    assert time.monotonic() - resumed_at > 4 - resolution["elapsed_seconds"] - 0.5
    breached = clock(await sla_of(api, "sla-3"), "resolution")
    assert breached["state"] == "breached"


async def _tags_include(api: TenantApi, conversation_id: str, tags: set[str]) -> bool:
    got = await api.http.get(f"/v1/conversations/{conversation_id}", headers=api.tenant.headers)
    return got.status_code == 200 and tags <= set(got.json().get("tags") or [])


async def _exists(api: TenantApi, conversation_id: str) -> bool:
    got = await api.http.get(f"/v1/conversations/{conversation_id}", headers=api.tenant.headers)
    return got.status_code == 200
