"""The notifier's own consumer on the kit's in-memory broker, with an in-memory notifications
store: requests in, replies and settlements out, the delivery rule around the batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from contracts import Envelope, topics
from contracts.events import DeadLettered, EffectSettled, NotificationRequested, ReplySent
from notifier.app import NAME
from notifier.domain.delivery import plan_delivery
from notifier.handlers.kafka import consume
from notifier.service import NotificationService
from notifier.settings import Settings
from servicekit.testing import MemoryBroker, MemoryMongo, running


class MemoryNotifications:
    """NotificationRepository in a dict; remembers each write (one per batch)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.writes: list[list[str]] = []
        self.refuse: set[str] = set()  # idempotency keys whose write fails (a bad document)
        self.hold: asyncio.Event | None = None  # writes wait for it when set

    async def record_many(self, docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        self.writes.append(sorted(doc["_id"] for doc in docs))
        if self.hold is not None:
            await self.hold.wait()
        if any(doc["_id"] in self.refuse for doc in docs):
            raise ValueError("document refused")
        earlier = {}
        for doc in docs:
            if doc["_id"] in self.docs:
                earlier[doc["_id"]] = self.docs[doc["_id"]]
            else:
                self.docs[doc["_id"]] = doc
        return earlier


def request(
    channel: str = "chat", kind: str = "action.send_reply", n: int = 1
) -> NotificationRequested:
    return NotificationRequested(
        idempotency_key=f"exe_{n}:reply:1",
        execution_id=f"exe_{n}",
        tenant_id="ten_1",
        effect_id="reply",
        node_id="reply",
        kind=kind,
        channel=channel,
        conversation_id=f"conv-{n}",
        request={"message": f"Hello Ada {n}"},
    )


class Notifier:
    """The notifier's consumer on an in-memory broker."""

    def __init__(self) -> None:
        self.broker = MemoryBroker()
        self.store = MemoryNotifications()
        self.mongo = MemoryMongo()
        self.kit = self.broker.kit(NAME, Settings(handling_attempts=1), self.mongo)
        consume(self.kit, NotificationService(self.store, self.kit.publish))  # type: ignore[arg-type]

    def send(self, event: NotificationRequested) -> None:
        envelope = Envelope.wrap(event, source="/test", tenant_id=event.tenant_id)
        self.broker.send(topics.NOTIFICATION_REQUESTS, envelope, key=event.execution_id.encode())

    def replies(self) -> list[ReplySent]:
        return self.broker.events(topics.REPLIES)  # type: ignore[return-value]

    def settled(self) -> list[EffectSettled]:
        return self.broker.events(topics.EXECUTION_COMMANDS)  # type: ignore[return-value]

    def dead(self) -> list[DeadLettered]:
        return self.broker.events(topics.DEAD_LETTERS)  # type: ignore[return-value]


def test_chat_reply_is_delivered() -> None:
    delivery = plan_delivery(request(), datetime.now(UTC))
    assert delivery.reply_message == "Hello Ada 1"
    assert delivery.result is not None and delivery.result["status"] == "delivered"
    assert delivery.error is None


def test_unconnected_channel_answers_an_error_naming_it() -> None:
    delivery = plan_delivery(request(channel="sms"), datetime.now(UTC))
    assert delivery.result is None and delivery.error is not None
    assert "sms" in delivery.error["message"]


async def test_request_in_reply_and_settlement_out_once_per_idempotency_key() -> None:
    notifier = Notifier()
    async with running(notifier.kit):
        for _ in range(2):  # a redelivery records nothing new, and is answered as the first
            notifier.send(request())
            await notifier.broker.idle()

    store = notifier.store
    assert len(store.docs) == 1
    replies, settled = notifier.replies(), notifier.settled()
    assert [r.message for r in replies] == ["Hello Ada 1", "Hello Ada 1"]
    assert {r.notification_id for r in replies} == {store.docs["exe_1:reply:1"]["notification_id"]}
    assert [s.effect_id for s in settled] == ["reply", "reply"]
    assert settled[0].result == settled[1].result
    # keyed so a conversation's replies and an execution's commands keep their order
    assert [r.key for r in notifier.broker.records(topics.REPLIES)] == [b"conv-1"] * 2
    assert [r.key for r in notifier.broker.records(topics.EXECUTION_COMMANDS)] == [b"exe_1"] * 2


async def test_requests_read_together_are_recorded_in_one_write_and_committed_after_it() -> None:
    notifier = Notifier()
    notifier.store.hold = asyncio.Event()
    for n in (1, 2, 3):
        notifier.send(request(n=n))  # waiting before the consumer starts: one batch
    async with running(notifier.kit):
        async with asyncio.timeout(2):
            while not notifier.store.writes:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)  # longer than the pipeline's commit interval
        assert notifier.broker.commits == []  # nothing committed while the write is pending
        notifier.store.hold.set()
        await notifier.broker.idle()

    assert notifier.store.writes == [["exe_1:reply:1", "exe_2:reply:1", "exe_3:reply:1"]]
    assert sorted(r.message for r in notifier.replies()) == [f"Hello Ada {n}" for n in (1, 2, 3)]
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


async def test_a_poison_record_is_dead_lettered_alone_and_the_rest_of_its_batch_delivered() -> None:
    notifier = Notifier()
    notifier.store.refuse.add("exe_2:reply:1")
    for n in (1, 2, 3):
        notifier.send(request(n=n))
    notifier.broker.append(
        topics.NOTIFICATION_REQUESTS, b"not json", headers={"ce_type": "NotificationRequested"}
    )
    async with running(notifier.kit):
        await notifier.broker.idle()

    # the batch failed as a whole, then went one record at a time
    assert sorted(notifier.store.docs) == ["exe_1:reply:1", "exe_3:reply:1"]
    assert sorted(r.message for r in notifier.replies()) == ["Hello Ada 1", "Hello Ada 3"]
    dead = notifier.dead()
    assert len(dead) == 2  # the request its store refused, and the garbage
    assert sorted(d.error_type for d in dead) == ["EnvelopeError", "ValueError"]
    assert {d.consumer for d in dead} == {NAME}
    stored = notifier.mongo.dead_letters()
    assert sorted(d["dead_letter_id"] for d in stored) == sorted(d.dead_letter_id for d in dead)
