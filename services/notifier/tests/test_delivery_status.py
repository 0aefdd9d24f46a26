"""Twilio's status callbacks (DeliveryStatusReported from the gateway) on the notifier's second
consumer: a report naming its message is recorded by its id in one write and no read; the
status moves only forward, each report is recorded once, a failure shows on the message, on
the conversation and in DeliveryFailed; a report that overtakes the create's answer waits for
it; one signed by another tenant's account changes nothing; one that names no message is
found by the provider's id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from contracts import topics
from contracts.events import DeliveryFailed
from notifier.domain.delivery import message_id
from servicekit.testing import running

from .conftest import Notifier

SID = "SM" + "1".zfill(32)
MESSAGE = message_id("exe_1:reply:1:1")


def sms_reply(notifier, n: int = 1):
    return notifier.request(n, channel="sms", request={"channel": "sms", "message": "hi"})


async def sent_message(notifier) -> dict:
    notifier.connect_twilio()
    notifier.conversation("conv-1")
    notifier.send(sms_reply(notifier))
    await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["provider_message_id"] == SID and message["_id"] == MESSAGE
    return message


def statuses(message: dict) -> list[str]:
    return [h["status"] for h in message["status_history"]]


def commands_since(notifier, n: int) -> list[tuple[str, str]]:
    return notifier.db.commands[n:]


async def until(condition: Callable[[], object], timeout: float = 2) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_the_lifecycle_moves_forward_and_keeps_every_report_once(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        for status in ("sent", "delivered", "sent", "delivered"):  # late and repeated callbacks
            notifier.report(SID, status, message_id=MESSAGE)
            await notifier.broker.idle()

    (message,) = notifier.messages()
    assert message["status"] == "delivered" and message["error"] is None
    assert statuses(message) == ["pending", "queued", "sent", "delivered"]
    assert message["status_events"] == [f"twilio:{SID}:sent", f"twilio:{SID}:delivered"]
    assert notifier.events(topics.EXECUTIONS) == []


async def test_reports_naming_their_message_cost_one_write_and_no_read(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        before = len(notifier.db.commands)
        notifier.report(SID, "sent", message_id=MESSAGE)
        await notifier.broker.idle()
        assert commands_since(notifier, before) == [("messages", "bulk_write")]
        notifier.report(SID, "delivered", message_id=MESSAGE)
        await notifier.broker.idle()
        assert commands_since(notifier, before) == [("messages", "bulk_write")] * 2
    assert notifier.db.bulk_ops[-2:] == [("messages", ["UpdateOne"])] * 2  # one update each
    assert notifier.db.delivery_reports.docs == {}
    assert notifier.messages()[0]["status"] == "delivered"


async def test_a_late_report_is_recorded_but_does_not_move_the_status_back(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        before = len(notifier.db.commands)
        notifier.report(SID, "delivered", message_id=MESSAGE)
        notifier.report(SID, "sent", message_id=MESSAGE)  # overtaken: callbacks come out of order
        await notifier.broker.idle()
        # no read: the one that moves nothing forward is a second update
        assert set(commands_since(notifier, before)) == {("messages", "bulk_write")}
    (message,) = notifier.messages()
    assert message["status"] == "delivered"
    assert statuses(message) == ["pending", "queued", "delivered", "sent"]


async def test_an_undelivered_message_shows_on_the_message_conversation_and_execution(
    notifier,
) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        notifier.report(SID, "sent", message_id=MESSAGE)
        notifier.report(SID, "undelivered", error_code="30005", message_id=MESSAGE)
        await notifier.broker.idle()
        # the gateway published it twice
        notifier.report(SID, "undelivered", error_code="30005", message_id=MESSAGE)
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
        notifier.report(SID, "failed", error_code="30003", message_id=MESSAGE)
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "failed"
    assert message["error"]["type"] == "RecipientUnreachable" and message["error"]["retryable"]


async def test_a_report_that_overtakes_the_creates_answer_waits_for_it(notifier) -> None:
    notifier.connect_twilio()
    notifier.conversation("conv-1")
    notifier.twilio.answer = asyncio.Event()
    async with running(notifier.kit):
        notifier.send(sms_reply(notifier))
        await until(lambda: notifier.twilio.sent)  # Twilio has it; its answer is on the way
        notifier.report(SID, "sent", message_id=MESSAGE)
        await until(lambda: ("messages", "find") in notifier.db.commands)  # looked at: pending
        await asyncio.sleep(0.1)
        (waiting,) = notifier.messages()
        assert statuses(waiting) == ["pending"]  # the sending path's until it has the answer
        notifier.twilio.answer.set()
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "sent" and message["provider_message_id"] == SID
    assert statuses(message) == ["pending", "queued", "sent"]
    assert notifier.db.delivery_reports.docs == {}


async def test_a_report_whose_send_is_not_answered_in_time_is_kept() -> None:
    notifier = Notifier(wait_seconds=0.1)
    notifier.connect_twilio()
    notifier.conversation("conv-1")
    notifier.twilio.answer = asyncio.Event()
    async with running(notifier.kit):
        notifier.send(sms_reply(notifier))
        await until(lambda: notifier.twilio.sent)
        notifier.report(SID, "sent", message_id=MESSAGE)
        await until(lambda: f"ten_1:twilio:{SID}:sent" in notifier.db.delivery_reports.docs)
        (waiting,) = notifier.messages()
        assert statuses(waiting) == ["pending"]
        notifier.twilio.answer.set()
        await notifier.broker.idle()
    kept = notifier.db.delivery_reports.docs[f"ten_1:twilio:{SID}:sent"]
    assert (kept["message_id"], kept["provider_message_id"]) == (MESSAGE, SID)
    assert notifier.events(topics.DEAD_LETTERS) == []


async def test_a_report_of_another_tenants_account_changes_nothing(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        # signed by tenant 2's account, naming tenant 1's message (or not naming it)
        notifier.report(SID, "failed", error_code="30007", tenant="ten_2", message_id=MESSAGE)
        notifier.report(SID, "delivered", tenant="ten_2")
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "queued" and message["error"] is None
    assert statuses(message) == ["pending", "queued"]
    assert notifier.events(topics.EXECUTIONS) == []
    assert sorted(notifier.db.delivery_reports.docs) == [
        f"ten_2:twilio:{SID}:delivered",
        f"ten_2:twilio:{SID}:failed",
    ]


async def test_a_report_naming_a_message_another_sid_was_sent_as_changes_nothing(
    notifier,
) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        notifier.report("SM" + "7" * 32, "undelivered", error_code="30005", message_id=MESSAGE)
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "queued" and notifier.events(topics.EXECUTIONS) == []


async def test_a_report_naming_no_message_is_found_by_the_providers_id(notifier) -> None:
    async with running(notifier.kit):
        await sent_message(notifier)
        notifier.report(SID, "sent")  # a StatusCallback without the message's id
        notifier.report(SID, "undelivered", error_code="30005")
        await notifier.broker.idle()
    (message,) = notifier.messages()
    assert message["status"] == "undelivered"
    assert statuses(message) == ["pending", "queued", "sent", "undelivered"]
    (failed,) = notifier.events(topics.EXECUTIONS, DeliveryFailed)
    assert failed.message_id == message["_id"]
    assert len(notifier.db.delivery_reports.docs) == 2  # kept before the lookup


async def test_a_report_about_a_message_nobody_logged_is_kept_not_dead_lettered(
    notifier,
) -> None:
    notifier.report("SM" + "9" * 32, "delivered")
    notifier.report("SM" + "8" * 32, "delivered", message_id=message_id("exe_9:reply:1:1"))
    await notifier.run()
    assert notifier.events(topics.DEAD_LETTERS) == []
    assert sorted(notifier.db.delivery_reports.docs) == [
        f"ten_1:twilio:SM{'8' * 32}:delivered",
        f"ten_1:twilio:SM{'9' * 32}:delivered",
    ]
