"""The scheduler's consumer: timer requests and cancels in, one after the other, offsets
committed after the work; the consumer group's assignment of the timers topic decides which
timers this replica fires (the partition is the lease: docs/architecture.md, *Timers*)."""

from __future__ import annotations

from aiokafka import TopicPartition
from contracts import Envelope, topics
from contracts.events import Event
from servicekit.delivery import Consumed
from servicekit.service import Kit

from scheduler.service import TimerService
from scheduler.sla import SlaKeeper


def consume(kit: Kit, service: TimerService) -> None:
    async def on_timer_message(envelope: Envelope[Event], record: Consumed) -> None:
        await service.on_timer_message(envelope, record.partition)

    async def assigned(partitions: set[TopicPartition]) -> None:
        await service.partitions_assigned(_timer_partitions(partitions))

    async def revoked(partitions: set[TopicPartition]) -> None:
        # after the consumer drained (its offsets committed): the firing page in flight
        # finishes before the partitions go to another replica
        await service.partitions_revoked(_timer_partitions(partitions))

    kit.consume(
        topics.TIMER_REQUESTS, on_record=on_timer_message, on_assigned=assigned, on_revoked=revoked
    )


def _timer_partitions(tps: set[TopicPartition]) -> set[int]:
    return {tp.partition for tp in tps if tp.topic == topics.TIMER_REQUESTS}


def consume_triggers(kit: Kit, keeper: SlaKeeper) -> None:
    """The SLA keeper's group on the triggers topic: the partition owner keeps the clocks of the
    conversations whose messages are on it (scheduler.sla)."""

    async def assigned(partitions: set[TopicPartition]) -> None:
        await keeper.partitions_assigned({tp.partition for tp in partitions})

    async def revoked(partitions: set[TopicPartition]) -> None:
        await keeper.partitions_revoked({tp.partition for tp in partitions})

    kit.consume(
        topics.TRIGGERS,
        on_record=keeper.on_trigger,
        select=keeper.select,
        group_suffix="-sla",
        on_assigned=assigned,
        on_revoked=revoked,
        # a look waits SCHEDULER_SLA_SETTLE_SECONDS anyway: fetched in large batches (up to
        # the broker's fetch wait, 0.5 s), not one fetch per customer message
        fetch_min_bytes=256 * 1024,
    )
