"""The notifier's consumer: notification requests in; offsets committed after the work."""

from __future__ import annotations

from typing import Any, cast

from contracts import topics
from contracts.delivery import Consumed, Publish, RecordDeadLetter, handle_batch_or_dead_letter
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


async def undecoded(message: Any) -> None:
    """FastStream would decode every record's body as JSON for a handler argument we do not
    take: the records are parsed once, into envelopes, by contracts.delivery."""
    return None


def build_router(
    group_id: str, wiring: Wiring, *, max_records: int = 100, batch_timeout_ms: int = 5
) -> KafkaRouter:
    """Requests are consumed in batches of up to ``max_records`` and handled together (one
    write, one round of sends). ``batch_timeout_ms``: how long a poll waits for the first
    record; FastStream sleeps as long again after an empty poll."""
    router = KafkaRouter()

    @router.subscriber(
        topics.NOTIFICATION_REQUESTS,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        decoder=undecoded,  # the handler reads the raw records
    )
    async def on_notifications_requested(message: KafkaMessage) -> None:
        await handle_batch_or_dead_letter(
            [Consumed.from_record(r) for r in cast(tuple[Any, ...], message.raw_message)],
            wiring.service.on_notifications_requested,  # type: ignore[arg-type]
            consumer=CONSUMER,
            publish=wiring.publish,
            attempts=wiring.attempts,
            record_dead_letter=wiring.record_dead_letter,
        )

    return router
