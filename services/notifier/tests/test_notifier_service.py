"""The notifier's own consumer on the kit's in-memory broker, its repositories on an in-memory
MongoDB: chat replies in, logged in their conversation, ReplySent and settlements out, the batch
shape (one round of writes, no reads), the delivery rule around the batch."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from contracts import topics
from contracts.events import DeliveryFailed, EffectSettled, ReplySent
from notifier.app import NAME
from notifier.domain.delivery import message_id
from servicekit.testing import running


async def test_a_chat_reply_is_published_and_logged(notifier) -> None:
    conversation = notifier.conversation("conv-1")
    notifier.send(notifier.request(1))
    await notifier.run()

    (reply,) = notifier.events(topics.REPLIES, ReplySent)
    assert reply.message == "Hello Ada 1" and reply.channel == "chat"
    (message,) = notifier.messages()
    assert reply.message_id == message["_id"] == message_id("exe_1:reply:1:1")
    assert message["direction"] == "outbound" and message["body"] == "Hello Ada 1"
    assert message["status"] == "sent" and message["provider"] == "widget"
    assert [h["status"] for h in message["status_history"]] == ["sent"]
    assert (message["execution_id"], message["node_id"]) == ("exe_1", "reply")
    assert message["notification_id"] == reply.notification_id
    # its last outbound time is the executor's, written when it asked for the reply
    assert notifier.db.conversations.docs[conversation["_id"]] == conversation
    assert notifier.events(topics.EXECUTION_COMMANDS) == []  # the reply awaits no result


async def test_a_batch_of_chat_replies_costs_one_round_of_writes_and_no_read(notifier) -> None:
    for n in (1, 2, 3):
        notifier.conversation(f"conv-{n}")
        notifier.send(notifier.request(n))
    await notifier.run()

    assert len(notifier.events(topics.REPLIES)) == 3
    assert sorted(notifier.db.commands) == [
        ("messages", "bulk_write"),
        ("notifications", "insert"),
    ]


async def test_a_redelivered_request_is_answered_as_the_first_time_and_logged_once(
    notifier,
) -> None:
    for _ in range(2):
        notifier.send(notifier.request(1, awaits_result=True))
    await notifier.run()

    assert len(notifier.db.notifications.docs) == 1 and len(notifier.messages()) == 1
    replies = notifier.events(topics.REPLIES, ReplySent)
    assert [r.message for r in replies] == ["Hello Ada 1"] * 2
    assert len({r.notification_id for r in replies} | {r.message_id for r in replies}) == 2
    settled = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert [s.command_id for s in settled] == ["settle:exe_1:reply:1:1"] * 2
    assert settled[0].result == settled[1].result
    assert settled[0].result["message_id"] == replies[0].message_id
    # keyed so a conversation's replies and an execution's commands keep their order
    assert [r.key for r in notifier.broker.records(topics.REPLIES)] == [b"conv-1"] * 2
    assert [r.key for r in notifier.broker.records(topics.EXECUTION_COMMANDS)] == [b"exe_1"] * 2


async def test_an_unknown_channel_is_an_error_the_workflow_sees_and_a_failed_message(
    notifier,
) -> None:
    notifier.conversation("conv-1")
    notifier.send(notifier.request(1, channel="pigeon", awaits_result=True))
    notifier.send(notifier.request(2, channel="pigeon"))  # a reply the workflow did not wait for
    await notifier.run()

    (settled,) = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert settled.result is None and settled.error is not None
    assert settled.error["type"] == "ChannelNotConnected" and "pigeon" in settled.error["message"]
    assert settled.error["retryable"] is False
    failed = notifier.events(topics.EXECUTIONS, DeliveryFailed)
    assert sorted(f.execution_id for f in failed) == ["exe_1", "exe_2"]
    assert {f.error["type"] for f in failed} == {"ChannelNotConnected"}
    assert {m["status"] for m in notifier.messages()} == {"failed"}
    assert notifier.events(topics.REPLIES) == []
    failure = notifier.db.conversations.docs["ten_1:conv-1"]["last_delivery_failure"]
    assert failure["message_id"] == message_id("exe_1:reply:1:1")
    assert failure["error"]["type"] == "ChannelNotConnected"


async def test_kinds_that_send_no_message_answer_not_connected_and_log_nothing(notifier) -> None:
    notifier.send(notifier.request(1, kind="action.add_tag", awaits_result=True))
    await notifier.run()
    (settled,) = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert settled.error["type"] == "ChannelNotConnected"
    assert notifier.messages() == [] and notifier.events(topics.EXECUTIONS) == []


async def test_a_conversation_that_does_not_exist_is_not_created(notifier) -> None:
    notifier.send(notifier.request(1))
    await notifier.run()
    assert notifier.db.conversations.docs == {}
    assert len(notifier.events(topics.REPLIES)) == 1


async def test_requests_read_together_are_recorded_in_one_write_and_committed_after_it(
    notifier,
) -> None:
    notifier.db.hold = asyncio.Event()
    for n in (1, 2, 3):
        notifier.send(notifier.request(n))  # waiting before the consumer starts: one batch
    async with running(notifier.kit):
        async with asyncio.timeout(2):
            while not notifier.db.commands:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)  # longer than the pipeline's commit interval
        assert notifier.broker.commits == []  # nothing committed while the write is pending
        notifier.db.hold.set()
        await notifier.broker.idle()

    assert notifier.db.commands.count(("notifications", "insert")) == 1
    assert sorted(notifier.db.notifications.docs) == [f"exe_{n}:reply:1:1" for n in (1, 2, 3)]
    group = notifier.kit.settings.group_id
    committed = {
        tp: offset
        for g, offsets in notifier.broker.commits
        if g == group
        for tp, offset in offsets.items()
    }
    on_partitions = {
        TopicPartition(r.topic, r.partition): r.offset + 1
        for r in notifier.broker.records(topics.NOTIFICATION_REQUESTS)
    }
    assert committed == on_partitions


async def test_a_poison_record_is_dead_lettered_alone_and_the_rest_of_its_batch_delivered(
    notifier,
) -> None:
    notifier.db.notifications.refuse.add("exe_2:reply:1:1")
    for n in (1, 2, 3):
        notifier.send(notifier.request(n))
    notifier.broker.append(
        topics.NOTIFICATION_REQUESTS, b"not json", headers={"ce_type": "NotificationRequested"}
    )
    await notifier.run()

    # the batch failed as a whole, then went one record at a time
    assert sorted(notifier.db.notifications.docs) == ["exe_1:reply:1:1", "exe_3:reply:1:1"]
    replies = notifier.events(topics.REPLIES, ReplySent)
    assert sorted(r.message for r in replies) == ["Hello Ada 1", "Hello Ada 3"]
    dead = notifier.events(topics.DEAD_LETTERS)
    assert len(dead) == 2  # the request its store refused, and the garbage
    assert sorted(d.error_type for d in dead) == ["EnvelopeError", "ValueError"]
    assert {d.consumer for d in dead} == {NAME}
    assert sorted(notifier.db.dead_letters.docs) == sorted(d.dead_letter_id for d in dead)
