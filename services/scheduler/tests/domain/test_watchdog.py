"""What the watchdog finds stuck, and why (pure: no store, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.domain.watchdog import GroupState, assess, due_slot, stalled, unapplied

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=300)


def execution(status: str, idle: float, **more: Any) -> dict[str, Any]:
    last = NOW - timedelta(seconds=idle)
    return {
        "_id": "exe_1",
        "tenant_id": "ten_1",
        "workflow_id": "wf_1",
        "status": status,
        "version": 3,
        "created_at": last,
        "updated_at": last,
        **more,
    }


def waiting(idle: float, deadline_in: float = 3600, **more: Any) -> dict[str, Any]:
    deadline = NOW + timedelta(seconds=deadline_in)
    return execution(
        "waiting", idle, wait_deadline_at=deadline, deadline_effect="deadline:1", **more
    )


def test_a_created_execution_not_started_within_the_lease_gets_its_start_again() -> None:
    assert assess(execution("created", 299), now=NOW, lease=LEASE) is None
    finding = assess(execution("created", 301), now=NOW, lease=LEASE)
    assert finding is not None
    assert (finding.kind, finding.action, finding.version) == ("not_started", "resend", 3)
    assert finding.reason == (
        "created and no command applied for 301s: its start command was lost or dead-lettered"
    )
    command = finding.command()
    assert command.expected_version == 3 and command.command_id == "repair:exe_1:3:resend"


def test_a_running_execution_without_progress_gets_its_next_command_again() -> None:
    finding = assess(execution("running", 600), now=NOW, lease=LEASE)
    assert finding is not None and (finding.kind, finding.action) == ("no_progress", "resend")
    assert "next command was lost" in finding.reason


def test_a_waiting_execution_is_stuck_only_without_a_pending_deadline_timer() -> None:
    doc = waiting(600)
    assert assess(doc, now=NOW, lease=LEASE, deadline_timer_pending=True) is None
    assert assess(doc, now=NOW, lease=LEASE, deadline_timer_pending=None) is None
    assert assess(waiting(10), now=NOW, lease=LEASE, deadline_timer_pending=False) is None
    finding = assess(doc, now=NOW, lease=LEASE, deadline_timer_pending=False)
    assert finding is not None and (finding.kind, finding.action) == ("unwakeable", "resend")
    assert "exe_1:deadline:1" in finding.reason


def test_a_waiting_execution_past_its_limit_and_the_lease_is_failed() -> None:
    doc = waiting(8 * 86400, deadline_in=-301)
    finding = assess(doc, now=NOW, lease=LEASE, deadline_timer_pending=True)
    assert finding is not None and (finding.kind, finding.action) == ("overdue", "fail")
    assert finding.reason.startswith("waiting past its waiting time limit")
    assert assess(waiting(8 * 86400, deadline_in=-299), now=NOW, lease=LEASE) is None


def test_a_repair_that_changed_nothing_turns_into_a_failure() -> None:
    repaired = {"version": 3, "repaired_at": NOW - timedelta(seconds=400)}
    finding = assess(execution("created", 400, watchdog=repaired), now=NOW, lease=LEASE)
    assert finding is not None and finding.action == "fail"
    assert "still so after the watchdog re-sent it" in finding.reason
    moved_on = {"version": 2, "repaired_at": NOW}  # progress since the repair: resend again
    again = assess(execution("created", 400, watchdog=moved_on), now=NOW, lease=LEASE)
    assert again is not None and again.action == "resend"


def test_final_executions_are_never_findings() -> None:
    for status in ("completed", "failed", "cancelled"):
        assert assess(execution(status, 10**6), now=NOW, lease=LEASE) is None


def test_a_resend_never_applied_is_failed_and_one_applied_is_not() -> None:
    first = assess(execution("created", 400), now=NOW, lease=LEASE)
    assert first is not None
    later = NOW + 2 * LEASE
    failed = unapplied(first, execution("created", 1000), later)
    assert failed is not None and failed.action == "fail" and "was not applied" in failed.reason
    assert unapplied(first, {**execution("completed", 0), "version": 4}, later) is None
    assert unapplied(first, None, later) is None


def test_the_due_slot_is_the_last_one_entirely_past_the_lease() -> None:
    minute = int(NOW.timestamp()) // 60
    assert due_slot(NOW, LEASE, 60) == minute - 5 - 1
    assert due_slot(NOW + timedelta(seconds=59), LEASE, 60) == minute - 6


def test_a_group_with_lag_and_no_members_is_stalled() -> None:
    groups = [GroupState("a", 0, 5), GroupState("b", 1, 5), GroupState("c", 0, 0)]
    assert [g.group for g in stalled(groups)] == ["a"]
