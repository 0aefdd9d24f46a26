"""The notifier's consumer: notification requests in; offsets committed after the work."""

from __future__ import annotations

from typing import Any, cast

from contracts import topics
from contracts.delivery import Consumed, Publish, RecordDeadLetter, handle_or_dead_letter
from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from notifier.service import NotificationService

CONSUMER = "notifier"


class Wiring:
    """Filled in at start-up, once MongoDB and Kafka are connected."""

    service: NotificationService
    publish: Publish
    record_dead_letter: RecordDeadLetter | None = None
    attempts: int


def build_router(group_id: str, wiring: Wiring) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        topics.NOTIFICATION_REQUESTS,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
    )
    async def on_notification_requested(message: KafkaMessage) -> None:
        raw = cast(Any, message.raw_message)
        await handle_or_dead_letter(
            Consumed(raw.topic, raw.partition, raw.offset, raw.key, message.headers, message.body),
            wiring.service.on_notification_requested,  # type: ignore[arg-type]
            consumer=CONSUMER,
            publish=wiring.publish,
            attempts=wiring.attempts,
            record_dead_letter=wiring.record_dead_letter,
        )

    return router
