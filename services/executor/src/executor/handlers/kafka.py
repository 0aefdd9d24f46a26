"""Kafka consumers of the executor: triggers in, commands in, in batches.

Each poll returns up to ``max_records`` records, handled together (one round of MongoDB writes
and one of sends; contracts.delivery.handle_batch_or_dead_letter). Offsets are committed only
after that work is durable (AckPolicy.NACK_ON_ERROR: an exception rewinds the batch, a crash
redelivers it)."""

from __future__ import annotations

from typing import Any, cast

from contracts import topics
from contracts.delivery import Consumed, Publish, RecordDeadLetter, handle_batch_or_dead_letter
from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from executor.runtime.service import ExecutionService

CONSUMER = "executor"


class Wiring:
    """Filled in at start-up, once MongoDB and Kafka are connected."""

    service: ExecutionService
    publish: Publish
    record_dead_letter: RecordDeadLetter
    attempts: int


def consumed(message: KafkaMessage) -> list[Consumed]:
    """The records of a batch as the delivery rule wants them."""
    return [Consumed.from_record(r) for r in cast(tuple[Any, ...], message.raw_message)]


async def undecoded(message: Any) -> None:
    """FastStream would decode every record's body as JSON for a handler argument we do not
    take: the records are parsed once, into envelopes, by contracts.delivery."""
    return None


def build_router(
    group_id: str, wiring: Wiring, *, max_records: int = 100, batch_timeout_ms: int = 5
) -> KafkaRouter:
    """``batch_timeout_ms``: how long a poll waits for the first record; FastStream sleeps
    as long again after an empty poll, so it bounds the latency added on a quiet system."""
    router = KafkaRouter()

    def subscriber(topic: str) -> Any:
        return router.subscriber(
            topic,
            group_id=group_id,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
            batch=True,
            max_records=max_records,
            batch_timeout_ms=batch_timeout_ms,
            decoder=undecoded,  # the handler reads the raw records
        )

    async def handle(message: KafkaMessage, handle_batch: Any) -> None:
        await handle_batch_or_dead_letter(
            consumed(message),
            handle_batch,
            consumer=CONSUMER,
            publish=wiring.publish,
            attempts=wiring.attempts,
            record_dead_letter=wiring.record_dead_letter,
        )

    @subscriber(topics.TRIGGERS)
    async def on_triggers_received(message: KafkaMessage) -> None:
        await handle(message, wiring.service.on_triggers)

    @subscriber(topics.EXECUTION_COMMANDS)
    async def on_execution_commands(message: KafkaMessage) -> None:
        await handle(message, wiring.service.on_commands)

    return router
