"""The notifier through FastStream's in-memory broker, with an in-memory notifications store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, topics
from contracts.events import EffectSettled, NotificationRequested, ReplySent
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from notifier.domain.delivery import plan_delivery
from notifier.handlers.kafka import Wiring, build_router
from notifier.service import NotificationService


class MemoryNotifications:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def record_many(self, docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        earlier = {}
        for doc in docs:
            if doc["_id"] in self.docs:
                earlier[doc["_id"]] = self.docs[doc["_id"]]
            else:
                self.docs[doc["_id"]] = doc
        return earlier


def request(channel: str = "chat", kind: str = "action.send_reply") -> NotificationRequested:
    return NotificationRequested(
        idempotency_key="exe_1:reply:1",
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id="reply",
        node_id="reply",
        kind=kind,
        channel=channel,
        conversation_id="conv-9",
        request={"message": "Hello Ada"},
    )


def test_chat_reply_is_delivered() -> None:
    delivery = plan_delivery(request(), datetime.now(UTC))
    assert delivery.reply_message == "Hello Ada"
    assert delivery.result is not None and delivery.result["status"] == "delivered"
    assert delivery.error is None


def test_unconnected_channel_answers_an_error_naming_it() -> None:
    delivery = plan_delivery(request(channel="sms"), datetime.now(UTC))
    assert delivery.result is None and delivery.error is not None
    assert "sms" in delivery.error["message"]


async def test_request_in_reply_and_settlement_out_once_per_idempotency_key() -> None:
    broker = KafkaBroker()
    wiring = Wiring()
    broker.include_router(build_router("notifier-test", wiring))
    replies: list[ReplySent] = []
    settled: list[EffectSettled] = []

    @broker.subscriber(topics.REPLIES)
    async def on_reply(message: KafkaMessage) -> None:
        replies.append(Envelope.parse(message.headers, message.body).data)  # type: ignore[arg-type]

    @broker.subscriber(topics.EXECUTION_COMMANDS)
    async def on_command(message: KafkaMessage) -> None:
        settled.append(Envelope.parse(message.headers, message.body).data)  # type: ignore[arg-type]

    async with TestKafkaBroker(broker) as test_broker:

        async def publish(
            value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
        ) -> None:
            await test_broker.publish(value, topic, key=key, headers=headers)

        store = MemoryNotifications()
        wiring.publish, wiring.attempts = publish, 1
        wiring.service = NotificationService(store, publish)  # type: ignore[arg-type]
        envelope = Envelope.wrap(request(), source="/test", tenant_id="ten_1")
        for _ in range(2):  # a redelivery records nothing new
            await test_broker.publish(
                envelope.body(),
                topics.NOTIFICATION_REQUESTS,
                key=b"exe_1",
                headers=envelope.headers(),
            )

    assert len(store.docs) == 1
    assert [r.message for r in replies] == ["Hello Ada", "Hello Ada"]
    assert {r.notification_id for r in replies} == {store.docs["exe_1:reply:1"]["notification_id"]}
    assert [s.effect_id for s in settled] == ["reply", "reply"]
    assert settled[0].result == settled[1].result
