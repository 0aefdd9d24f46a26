"""Kafka consumers of the executor: triggers in, commands in.

Offsets are committed only after the handler's work is durable (AckPolicy.NACK_ON_ERROR: an
exception rewinds, a crash redelivers)."""

from __future__ import annotations

from typing import Any, cast

from contracts import topics
from contracts.delivery import Consumed, Publish, RecordDeadLetter, handle_or_dead_letter
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


def consumed(message: KafkaMessage) -> Consumed:
    raw = cast(Any, message.raw_message)
    return Consumed(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        headers=message.headers,
        value=message.body,
    )


def build_router(group_id: str, wiring: Wiring) -> KafkaRouter:
    router = KafkaRouter()

    def subscriber(topic: str) -> Any:
        return router.subscriber(
            topic,
            group_id=group_id,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            auto_offset_reset="earliest",
        )

    async def handle(message: KafkaMessage, handler: Any) -> None:
        await handle_or_dead_letter(
            consumed(message),
            handler,
            consumer=CONSUMER,
            publish=wiring.publish,
            attempts=wiring.attempts,
            record_dead_letter=wiring.record_dead_letter,
        )

    @subscriber(topics.TRIGGERS)
    async def on_trigger_received(message: KafkaMessage) -> None:
        await handle(message, wiring.service.on_trigger)

    @subscriber(topics.EXECUTION_COMMANDS)
    async def on_execution_command(message: KafkaMessage) -> None:
        await handle(message, wiring.service.on_command)

    return router
