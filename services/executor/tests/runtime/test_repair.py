"""The watchdog's repair command applied to one execution (docs/architecture.md, *The
watchdog*): a lost start started, lost requests sent again, a hopeless case failed with an
incident naming the reason, and nothing done to an execution that moved on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contracts import topics
from contracts.events import ExecutionCompleted, ExecutionRepairRequested
from executor.adapters.execution_documents import watch_fields
from memory_stack import command, service

from .test_step import GREETING, LOOKUP, NOW, START, Clock, events, new_doc, of_type, run, settle


def repair(doc: dict[str, Any], action: str = "resend", **extra: Any) -> ExecutionRepairRequested:
    fields: dict[str, Any] = {
        "command_id": f"repair:exe_1:{doc['version']}",
        "execution_id": "exe_1",
        "tenant_id": "ten_1",
        "finding": "not_started",
        "action": action,
        "reason": "created and not started within 60s",
        "expected_version": int(doc["version"]),
        "found_at": NOW,
    }
    return ExecutionRepairRequested(**{**fields, **extra})


async def test_a_created_execution_whose_start_was_lost_is_started() -> None:
    created = new_doc(created_at=NOW - timedelta(minutes=5))
    applied = await run(created, GREETING, repair(created))
    assert applied.doc["status"] == "completed"
    assert of_type(applied.doc, "ExecutionStarted") and of_type(applied.doc, "ExecutionCompleted")
    assert applied.doc["watchdog"]["finding"] == "not_started"
    assert applied.doc["watchdog"]["version"] == applied.doc["version"] == 1


async def test_an_execution_that_cannot_start_fails_with_an_incident_saying_why() -> None:
    created = new_doc(trigger_type="New Order", created_at=NOW - timedelta(minutes=5))
    applied = await run(created, GREETING, repair(created))
    doc = applied.doc
    assert doc["status"] == "failed" and doc["incident"]["status"] == "open"
    assert doc["incident"]["message"].startswith("watchdog: created and not started within 60s")
    assert "cannot start" in doc["incident"]["message"] and "New Order" in doc["error"]["message"]
    (failed,) = of_type(doc, "ExecutionFailed")
    assert failed.message == doc["incident"]["message"]
    assert doc["watchdog"]["action"] == "fail"


async def test_a_waiting_execution_gets_its_requests_and_deadline_timer_again() -> None:
    waiting = (await run(new_doc(), LOOKUP, START)).doc
    (asked,) = of_type(waiting, "IntegrationRequested")
    applied = await run(waiting, LOOKUP, repair(waiting, finding="unwakeable"))
    doc = applied.doc
    assert doc["status"] == "waiting" and doc["version"] == waiting["version"] + 1
    (again,) = of_type(doc, "IntegrationRequested")
    assert again.idempotency_key == asked.idempotency_key  # the receiver dedupes it
    deadline = [t for t in of_type(doc, "TimerRequested") if t.effect_id == "deadline:1"]
    assert deadline and deadline[0].fire_at == waiting["wait_deadline_at"]
    assert {topic for topic, _event in events(doc)} <= {
        topics.INTEGRATION_REQUESTS,
        topics.TIMER_REQUESTS,
    }  # no lifecycle event published twice
    # the integration's answer still resumes it
    answer = await run(doc, LOOKUP, settle(asked.effect_id, result={"name": "#1"}))
    assert answer.doc["status"] == "completed"


async def test_fail_ends_a_waiting_execution_with_its_reason_and_cancels_its_timers() -> None:
    waiting = (await run(new_doc(), LOOKUP, START)).doc
    reason = "waited past its waiting time limit"
    applied = await run(waiting, LOOKUP, repair(waiting, "fail", finding="overdue", reason=reason))
    doc = applied.doc
    assert doc["status"] == "failed" and doc["incident"]["message"] == f"watchdog: {reason}"
    assert [t.idempotency_key for t in of_type(doc, "TimerCancelRequested")] == ["exe_1:deadline:1"]


async def test_a_running_execution_past_its_running_time_limit_is_failed() -> None:
    clock = Clock()
    running = (await run(new_doc(), GREETING, START, clock, max_steps=1)).doc
    assert running["status"] == "running"
    clock.now = NOW + timedelta(hours=2)
    stuck = repair(running, finding="no_progress", reason="running, no progress within 60s")
    doc = (await run(running, GREETING, stuck, clock, max_running_seconds=3600)).doc
    assert doc["status"] == "failed" and "running time limit" in doc["error"]["message"]


async def test_a_running_execution_gets_its_continue_command_again() -> None:
    running = (await run(new_doc(), GREETING, START, max_steps=1)).doc
    stuck = repair(running, finding="no_progress")
    doc = (await run(running, GREETING, stuck)).doc
    ((topic, event),) = events(doc)
    assert topic == topics.EXECUTION_COMMANDS and event.command_id.startswith("continue:")


async def test_an_execution_that_moved_on_since_the_finding_is_left_alone() -> None:
    waiting = (await run(new_doc(), LOOKUP, START)).doc
    stale = repair(waiting, expected_version=int(waiting["version"]) - 1)
    assert not (await run(waiting, LOOKUP, stale)).changed
    done = (await run(new_doc(), GREETING, START)).doc
    assert not (await run(done, GREETING, repair(done, "fail"))).changed


def test_the_watch_fields_follow_the_status_and_the_last_write() -> None:
    waiting = {
        "status": "waiting",
        "created_at": NOW,
        "updated_at": NOW + timedelta(seconds=61),
        "wait_deadline_at": NOW + timedelta(days=7),
    }
    minute = int(NOW.timestamp()) // 60
    assert watch_fields(waiting, 60) == {
        "watch": f"waiting:{minute + 1}",
        "watch_deadline": minute + 7 * 24 * 60,
    }
    assert watch_fields({**waiting, "status": "running"}, 60)["watch_deadline"] is None
    assert watch_fields({**waiting, "status": "completed"}, 60) == {
        "watch": None,
        "watch_deadline": None,
    }


async def test_the_service_applies_a_repair_once_and_a_redelivery_only_sends_again() -> None:
    svc, store, sent = service(GREETING)
    created = new_doc(created_at=NOW)
    store.executions["exe_1"] = dict(created)  # inserted, its start command lost
    fix = command(repair(created))
    await svc.commands.on_batch([fix])
    assert store.executions["exe_1"]["status"] == "completed"
    assert len(sent.of(ExecutionCompleted)) == 1
    await svc.commands.on_batch([fix])  # redelivered: the outbox again, no new state
    assert store.executions["exe_1"]["version"] == 1
    assert store.calls.count("save") == 1
