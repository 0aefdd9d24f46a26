"""A message's status moves only forward; each report is recorded once."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.domain.lifecycle import Report, apply_reports, rank

AT = datetime(2026, 12, 1, tzinfo=UTC)


def report(status: str, code: str | None = None) -> Report:
    return Report(f"twilio:SM1:{status}", status, AT, code)


def test_the_lifecycle_order() -> None:
    order = ["pending", "queued", "sending", "sent", "delivered", "read"]
    assert [rank(s) for s in order] == sorted(rank(s) for s in order)
    assert rank("accepted") < rank("queued") and rank("failed") == rank("delivered")
    assert rank("something new") < rank("pending")


def test_reports_move_the_status_forward_only_and_each_is_recorded_once() -> None:
    message = {"_id": "msg_1", "status": "queued", "status_events": ["twilio:SM1:sent"]}
    change = apply_reports(message, [report("sent"), report("delivered"), report("sent")])
    assert change.status == "delivered" and change.error is None
    assert [eid for eid, _ in change.new_entries] == ["twilio:SM1:delivered"]
    assert change.failed is None


def test_the_first_final_status_wins() -> None:
    message = {"_id": "msg_1", "status": "delivered", "status_events": []}
    change = apply_reports(message, [report("undelivered", "30005")])
    assert change.status is None and change.failed is None
    assert [e["status"] for _, e in change.new_entries] == ["undelivered"]


def test_a_failure_is_returned_again_when_its_report_comes_again() -> None:
    failing = report("undelivered", "30006")
    first = apply_reports({"_id": "msg_1", "status": "sent"}, [failing])
    assert first.status == "undelivered" and first.failed == failing
    assert first.error is not None and first.error.code == 30006
    again = apply_reports(
        {"_id": "msg_1", "status": "undelivered", "status_events": [failing.event_id]}, [failing]
    )
    assert not again and again.failed == failing
