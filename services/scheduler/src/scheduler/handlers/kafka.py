"""The scheduler's consumer: timer requests and cancels in, offsets committed after the work;
the consumer group's assignment of the timers topic decides which timers this replica fires."""

from __future__ import annotations

from typing import Any, cast

from aiokafka import ConsumerRebalanceListener, TopicPartition  # type: ignore[import-untyped]
from contracts import Envelope, topics
from contracts.delivery import Consumed, Publish, RecordDeadLetter, handle_or_dead_letter
from contracts.events import Event
from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from scheduler.service import TimerService

CONSUMER = "scheduler"


class Wiring:
    """Filled in at start-up, once MongoDB and Kafka are connected."""

    service: TimerService
    publish: Publish
    record_dead_letter: RecordDeadLetter
    attempts: int


class TimerPartitions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands the group's assignment of the timers topic to the service: the timers it fires."""

    def __init__(self, wiring: Wiring) -> None:
        self._wiring = wiring

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._wiring.service.partitions_revoked(_timer_partitions(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._wiring.service.partitions_assigned(_timer_partitions(assigned))


def _timer_partitions(tps: set[TopicPartition]) -> set[int]:
    return {tp.partition for tp in tps if tp.topic == topics.TIMER_REQUESTS}


def build_router(group_id: str, wiring: Wiring) -> KafkaRouter:
    router = KafkaRouter()

    @router.subscriber(
        topics.TIMER_REQUESTS,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        listener=TimerPartitions(wiring),
    )
    async def on_timer_message(message: KafkaMessage) -> None:
        raw = cast(Any, message.raw_message)

        async def handle(envelope: Envelope[Event]) -> None:
            await wiring.service.on_timer_message(envelope, raw.partition)

        await handle_or_dead_letter(
            Consumed(raw.topic, raw.partition, raw.offset, raw.key, message.headers, message.body),
            handle,
            consumer=CONSUMER,
            publish=wiring.publish,
            attempts=wiring.attempts,
            record_dead_letter=wiring.record_dead_letter,
        )

    return router
