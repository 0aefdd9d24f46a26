"""A schedule's fire: it starts its own workflow alone, once per planned time, and not while
the run of its previous fire is going when the schedule does not overlap its runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope
from contracts.events import TriggerReceived
from executor.runtime.triggers import execution_id_for
from memory_stack import service

WAITING = {  # a run that waits an hour: still going when the next fire comes
    "name": "nightly",
    "triggerType": "Scheduled",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Scheduled", "config": {}},
        {"id": "w", "type": "logic", "label": "Wait", "config": {"duration": "1h"}},
    ],
    "edges": [{"id": "e", "source": "t", "target": "w"}],
}


def fire(at: int, *, workflow_id: str = "wf_1", previous: str | None = None, **more: Any):
    event = TriggerReceived(
        trigger_id=f"sch_1:{at}",
        tenant_id="ten_1",
        trigger_type="Scheduled",
        workflow_id=workflow_id,
        payload={
            "scheduleId": "sch_1",
            "scheduledFor": datetime.fromtimestamp(at, UTC).isoformat(),
            "overlap": "skip",
            "previousTriggerId": previous,
            **more,
        },
        received_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="/test", tenant_id="ten_1")


async def test_a_fire_starts_its_workflow_with_the_planned_time_in_trigger() -> None:
    svc, store, _ = service(WAITING)
    await svc.triggers.on_batch([fire(100)])
    run = store.executions[execution_id_for("sch_1:100", "wf_1")]
    assert run["status"] == "waiting" and run["trigger_type"] == "Scheduled"
    trigger = json.loads(run["trigger_json"])["payload"]
    assert trigger["scheduledFor"] == "1970-01-01T00:01:40+00:00"

    await svc.triggers.on_batch([fire(100)])  # the same planned time again: nothing new
    assert len(store.executions) == 1


async def test_another_workflows_schedule_starts_nothing_here() -> None:
    svc, store, _ = service(WAITING)
    await svc.triggers.on_batch([fire(100, workflow_id="wf_other")])
    assert store.executions == {}


async def test_no_overlap_while_the_previous_run_is_going_unless_allowed() -> None:
    svc, store, _ = service(WAITING)
    await svc.triggers.on_batch([fire(100)])
    await svc.triggers.on_batch([fire(200, previous="sch_1:100")])
    assert list(store.executions) == [execution_id_for("sch_1:100", "wf_1")]
    (outcome,) = [o for o in store.trigger_outcomes.values() if o["_id"] == "sch_1:200"]
    (refused,) = outcome["not_started"]
    assert "is still waiting (overlap: skip)" in refused["reason"]
    first = execution_id_for("sch_1:100", "wf_1")
    assert refused["blocking_execution_id"] == first

    # the next fire names the refused one as its previous: the run that blocked it still does
    await svc.triggers.on_batch([fire(250, previous="sch_1:200")])
    assert execution_id_for("sch_1:250", "wf_1") not in store.executions

    await svc.triggers.on_batch([fire(300, previous="sch_1:100", overlap="allow")])
    assert execution_id_for("sch_1:300", "wf_1") in store.executions

    store.executions[execution_id_for("sch_1:100", "wf_1")]["status"] = "completed"
    await svc.triggers.on_batch([fire(400, previous="sch_1:100")])
    assert execution_id_for("sch_1:400", "wf_1") in store.executions
