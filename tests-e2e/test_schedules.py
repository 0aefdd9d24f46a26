"""Workflow schedules on the real stack: a schedule firing every two seconds across a kill -9
of the scheduler, each planned time started once (no miss, no double); a schedule that does
not overlap its runs skipping fires while its run waits."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

from conftest import Stack, TenantApi


def scheduled_workflow(*, wait: str | None = None) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "t", "type": "trigger", "label": "Scheduled", "config": {}},
        {
            "id": "v",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.planned", "value": "{{trigger.scheduledFor}}"},
        },
    ]
    if wait:
        nodes.append({"id": "w", "type": "logic", "label": "Wait", "config": {"duration": wait}})
    edges = [
        {"id": f"e{i}", "source": a["id"], "target": b["id"]}
        for i, (a, b) in enumerate(itertools.pairwise(nodes))
    ]
    return {"name": "Every two seconds", "triggerType": "Scheduled", "nodes": nodes, "edges": edges}


async def schedule(api: TenantApi, workflow_id: str, **spec: Any) -> dict[str, Any]:
    body = {"workflow_id": workflow_id, "cron_expression": "*/2 * * * * *", **spec}
    made = await api.http.post("/v1/schedules", json=body, headers=api.tenant.headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


def planned_times(mongo: Any, tenant_id: str, workflow_id: str) -> list[int]:
    """The planned time of each execution of the workflow (its trigger id's second half)."""
    runs = mongo.executions.find(
        {"tenant_id": tenant_id, "workflow_id": workflow_id}, projection={"trigger_id": 1}
    )
    return sorted(int(r["trigger_id"].rsplit(":", 1)[1]) for r in runs)


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_a_schedule_fires_every_planned_time_once_across_a_scheduler_kill(
    api: TenantApi, stack: Stack, mongo: Any
) -> None:
    workflow_id = await api.activate(scheduled_workflow())
    made = await schedule(
        api, workflow_id, timezone="Europe/Berlin", catch_up="each", catch_up_limit=100
    )
    tenant_id = api.tenant.tenant_id
    try:
        await until(lambda: len(planned_times(mongo, tenant_id, workflow_id)) >= 3, 30, "3 fires")
        stack.kill("scheduler")
        down_at = time.time()
        await asyncio.sleep(5)  # two or three planned times pass with no scheduler
        stack.start("scheduler")
        await until(
            lambda: max(planned_times(mongo, tenant_id, workflow_id)) > down_at + 8,
            30,
            "fires after the restart",
        )
    finally:
        deleted = await api.http.delete(f"/v1/schedules/{made['id']}", headers=api.tenant.headers)
        assert deleted.status_code == 204, deleted.text
    times = planned_times(mongo, tenant_id, workflow_id)
    # every planned time from the first to the last, each once: none missed while it was down
    assert times == list(range(times[0], times[-1] + 2, 2)), times
    assert any(down_at < t < down_at + 5 for t in times)  # the ones due while it was down
    done = mongo.executions.find_one({"trigger_id": f"{made['id']}:{times[0]}"})
    assert done["status"] == "completed"
    variables = json.loads(done["variables_json"])
    assert variables["workflow"]["planned"] == datetime.fromtimestamp(times[0], UTC).isoformat()


async def test_a_schedule_that_does_not_overlap_skips_fires_while_its_run_waits(
    api: TenantApi, mongo: Any
) -> None:
    workflow_id = await api.activate(scheduled_workflow(wait="1h"))
    made = await schedule(api, workflow_id, overlap="skip", catch_up="skip")

    def refusals() -> list[str]:
        outcomes = mongo.trigger_outcomes.find({"tenant_id": api.tenant.tenant_id})
        return [
            n["reason"]
            for o in outcomes
            for n in o.get("not_started", [])
            if n["workflow_id"] == workflow_id
        ]

    try:
        await until(lambda: len(refusals()) >= 2, 30, "fires refused for overlap")
    finally:
        await api.http.delete(f"/v1/schedules/{made['id']}", headers=api.tenant.headers)
    runs = list(mongo.executions.find({"workflow_id": workflow_id}))
    assert len(runs) == 1 and runs[0]["status"] == "waiting", [
        (r["trigger_id"][-4:], r["status"], json.loads(r["trigger_json"])["payload"]) for r in runs
    ]
    assert all("overlap: skip" in reason for reason in refusals())
