"""Twilio's status callbacks (DeliveryStatusReported from the gateway) on the notifier's second
consumer: the message's status moves only forward, each report is recorded once, a failure
shows on the message, on the conversation and in DeliveryFailed; a report that overtakes the
create's answer is applied when the sid is written."""

from __future__ import annotations

from contracts import topics
from contracts.events import DeliveryFailed
from servicekit.testing import running

SID = "SM" + "1".zfill(32)


def sms_reply(notifier, n: int = 1):
    return notifier.request(n, channel="sms", request={"channel": "sms", "message": "hi"})


async def sent_message(notifier) -> dict:
    notifier.connect_twilio()
    notifier.conversation("conv-1")
    notifier.send(sms_reply(notifier))
    await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["provider_message_id"] == SID
    return message


def statuses(message: dict) -> list[str]:
    return [h["status"] for h in message["status_history"]]


async def test_the_lifecycle_moves_forward_and_keeps_every_report_once(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        for status in ("sent", "delivered", "sent", "delivered"):  # late and repeated callbacks
            notifier.report(SID, status)
            await notifier.broker.idle()

    (message,) = notifier.messages()
    assert message["status"] == "delivered" and message["error"] is None
    assert statuses(message) == ["pending", "queued", "sent", "delivered"]
    assert message["status_events"] == [f"twilio:{SID}:sent", f"twilio:{SID}:delivered"]
    assert notifier.events(topics.EXECUTIONS) == []


async def test_a_late_report_is_recorded_but_does_not_move_the_status_back(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        notifier.report(SID, "delivered")
        notifier.report(SID, "sent")  # overtaken: Twilio's callbacks may arrive out of order
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "delivered"
    assert statuses(message) == ["pending", "queued", "delivered", "sent"]


async def test_an_undelivered_message_shows_on_the_message_conversation_and_execution(
    notifier,
) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        notifier.report(SID, "sent")
        notifier.report(SID, "undelivered", error_code="30005")
        await notifier.broker.idle()
        notifier.report(SID, "undelivered", error_code="30005")  # the gateway published it twice
        await notifier.broker.idle()

    (message,) = notifier.messages()
    assert message["status"] == "undelivered"
    assert message["error"] == {
        "type": "InvalidRecipient",
        "code": 30005,
        "message": "Unknown destination handset",
        "retryable": False,
    }
    assert statuses(message) == ["pending", "queued", "sent", "undelivered"]
    assert message["status_history"][-1]["error_code"] == "30005"
    failure = notifier.db.conversations.docs["ten_1:conv-1"]["last_delivery_failure"]
    assert failure["message_id"] == message["_id"] and failure["status"] == "undelivered"
    assert failure["error"]["code"] == 30005
    announced = notifier.events(topics.EXECUTIONS, DeliveryFailed)
    assert len(announced) == 2  # again for the repeated report: the first may not have gone out
    assert {a.failure_id for a in announced} == {f"{message['_id']}:undelivered"}
    first = announced[0]
    assert (first.execution_id, first.node_id, first.provider_message_id) == ("exe_1", "reply", SID)
    assert first.error["type"] == "InvalidRecipient" and first.status == "undelivered"
    assert {r.key for r in notifier.broker.records(topics.EXECUTIONS)} == {b"exe_1"}


async def test_an_unreachable_handset_is_a_failure_worth_another_attempt(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        notifier.report(SID, "failed", error_code="30003")
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "failed"
    assert message["error"]["type"] == "RecipientUnreachable" and message["error"]["retryable"]


async def test_a_report_that_overtakes_the_creates_answer_is_applied_with_the_sid(
    notifier,
) -> None:
    notifier.connect_twilio()
    notifier.conversation("conv-1")
    async with running(notifier.kit):
        notifier.report(SID, "sent")  # its message's sid is not written yet
        await notifier.broker.idle()
        assert f"ten_1:twilio:{SID}:sent" in notifier.db.delivery_reports.docs
        notifier.send(sms_reply(notifier))
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "sent"
    assert statuses(message) == ["pending", "queued", "sent"]


async def test_a_report_about_a_message_nobody_logged_is_kept_not_dead_lettered(
    notifier,
) -> None:
    notifier.report("SM" + "9" * 32, "delivered")
    await notifier.run()
    assert notifier.events(topics.DEAD_LETTERS) == []
    assert list(notifier.db.delivery_reports.docs) == [f"ten_1:twilio:SM{'9' * 32}:delivered"]


async def test_a_report_of_another_tenants_account_changes_nothing(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        notifier.report(SID, "failed", error_code="30007", tenant="ten_2")  # its own signature
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "queued" and message["error"] is None
    assert notifier.events(topics.EXECUTIONS) == []
