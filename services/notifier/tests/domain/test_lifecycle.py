"""Where a report stands against the message it names: due, recorded before, waiting for the
message's send to be answered, or about no message of the tenant; which failure is
announced."""

from __future__ import annotations

from datetime import UTC, datetime

from notifier.domain.lifecycle import (
    MessageReport,
    Report,
    Standing,
    announces_failure,
    rank,
    standing,
)

AT = datetime(2026, 12, 1, tzinfo=UTC)
SID = "SM1"


def report(status: str, code: str | None = None, tenant: str = "ten_1") -> MessageReport:
    return MessageReport(tenant, "twilio", SID, Report(f"twilio:{SID}:{status}", status, AT, code))


def message(**fields: object) -> dict[str, object]:
    return {
        "_id": "msg_1",
        "tenant_id": "ten_1",
        "provider": "twilio",
        "provider_message_id": SID,
        "status": "queued",
        "status_events": [],
        "notification": {"status": "sent"},
        **fields,
    }


def test_the_lifecycle_order() -> None:
    order = ["pending", "queued", "sending", "sent", "delivered", "read"]
    assert [rank(s) for s in order] == sorted(rank(s) for s in order)
    assert rank("accepted") < rank("queued") and rank("failed") == rank("delivered")
    assert rank("something new") < rank("pending")


def test_a_report_is_due_on_its_tenants_answered_message_once() -> None:
    assert standing(message(), report("sent")) is Standing.DUE
    recorded = message(status_events=[f"twilio:{SID}:sent"])
    assert standing(recorded, report("sent")) is Standing.RECORDED
    # logged before records were kept on messages: answered
    assert standing(message(notification=None), report("sent")) is Standing.DUE


def test_a_report_waits_while_the_send_is_not_answered() -> None:
    pending = message(provider_message_id=None, notification={"status": "pending"})
    assert standing(pending, report("sent")) is Standing.UNANSWERED


def test_a_report_about_another_tenants_or_another_sids_message_is_unknown() -> None:
    assert standing(None, report("sent")) is Standing.UNKNOWN
    assert standing(message(), report("sent", tenant="ten_2")) is Standing.UNKNOWN
    assert standing(message(provider_message_id="SM2"), report("sent")) is Standing.UNKNOWN
    assert standing(message(provider="widget"), report("sent")) is Standing.UNKNOWN


def test_the_failure_a_message_ended_with_is_announced_again_and_the_first_final_wins() -> None:
    failing = report("undelivered", "30006")
    failed = message(status="undelivered", status_events=[failing.report.event_id])
    assert announces_failure(failed, failing)  # also when it comes again
    delivered = message(status="delivered", status_events=[failing.report.event_id])
    assert not announces_failure(delivered, failing)  # recorded, but delivered came first
    assert not announces_failure(message(status="undelivered"), failing)  # not recorded here
    assert not announces_failure(failed, report("undelivered", tenant="ten_2"))
    assert failing.report.error() is not None and failing.report.error().code == 30006  # type: ignore[union-attr]
