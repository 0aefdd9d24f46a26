"""TopicConsumer: records are taken from aiokafka while the batch before them is handled, and
handed over together; a seek or a revocation drops what was read of those partitions."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from servicekit.consumer import TopicConsumer
from servicekit.delivery import Consumed
from servicekit.testing import MemoryBroker, MemoryConsumer

TOPIC = "t"


class Handler:
    """Records each batch's (partition, offset)s; a batch can be held until released."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[int, int]]] = []
        self.hold: asyncio.Event | None = None
        self.raise_once = False

    async def __call__(self, consumer: TopicConsumer, records: list[Consumed]) -> None:
        self.batches.append([(r.partition, r.offset) for r in records])
        if self.hold is not None:
            await self.hold.wait()
        if self.raise_once:
            self.raise_once = False
            raise RuntimeError("bug")


async def until(condition: Any, timeout: float = 2.0) -> None:
    """Polls ``condition``: what it watches happens in the consumer's own tasks."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


class Topic:
    """The topic on an in-memory broker, and the group member reading it."""

    def __init__(self) -> None:
        self.broker = MemoryBroker(partitions=2)
        self.member: MemoryConsumer = self.broker.consumer("g")

    def arrive(self, *partitions: int) -> None:
        """A record at the end of each partition named."""
        for partition in partitions:
            self.broker.append(TOPIC, b"{}", partition=partition)


async def hold_on_a_first_batch(topic: Topic, handler: Handler) -> None:
    """The handler busy with a first batch (record 0 of partition 0) until released."""
    handler.hold = asyncio.Event()
    topic.arrive(0)
    await until(lambda: handler.batches == [[(0, 0)]])


async def started(max_records: int = 100) -> tuple[TopicConsumer, Topic, Handler, list[str]]:
    topic, handler, drained = Topic(), Handler(), []

    async def drain() -> None:
        drained.append("drained")

    consumer = TopicConsumer(
        TOPIC,
        handler,
        group_id="g",
        bootstrap_servers="unused",
        max_records=max_records,
        drain=drain,
        consumer=topic.member,
    )
    await consumer.start()
    return consumer, topic, handler, drained


async def test_records_arriving_during_a_batch_are_read_at_once_and_handled_together() -> None:
    consumer, topic, handler, _ = await started()
    await hold_on_a_first_batch(topic, handler)
    topic.arrive(0, 1, 0)
    # taken from aiokafka while the first batch is still being handled (so it fetches again)
    await until(topic.member.fetched_all)
    assert len(handler.batches) == 1
    assert handler.hold is not None
    handler.hold.set()
    await until(lambda: len(handler.batches) == 2)
    assert handler.batches[1] == [(0, 1), (0, 2), (1, 0)]
    await consumer.stop()


async def test_a_batch_is_at_most_max_records() -> None:
    consumer, topic, handler, _ = await started(max_records=2)
    await hold_on_a_first_batch(topic, handler)
    topic.arrive(0, 0, 0, 0, 0)
    await until(topic.member.fetched_all)
    assert handler.hold is not None
    handler.hold.set()
    await until(lambda: len(handler.batches) == 4)
    assert handler.batches[1:] == [[(0, 1), (0, 2)], [(0, 3), (0, 4)], [(0, 5)]]
    await consumer.stop()


async def test_a_seek_drops_what_was_read_of_that_partition_only() -> None:
    consumer, topic, handler, _ = await started()
    await hold_on_a_first_batch(topic, handler)
    topic.arrive(0, 1, 0)
    await until(topic.member.fetched_all)
    consumer.seek(TopicPartition(TOPIC, 0), 1)  # the pipeline rewinds partition 0
    await until(topic.member.fetched_all)  # partition 0's records read again from offset 1
    assert handler.hold is not None
    handler.hold.set()
    await until(lambda: len(handler.batches) == 2)
    assert sorted(handler.batches[1]) == [(0, 1), (0, 2), (1, 0)]  # each once
    await consumer.stop()


async def test_revoked_partitions_are_dropped_and_the_work_in_flight_drained() -> None:
    consumer, topic, handler, drained = await started()
    await hold_on_a_first_batch(topic, handler)
    topic.arrive(0, 1)
    await until(topic.member.fetched_all)
    await topic.member.revoke({1})
    assert drained == ["drained"]
    assert handler.hold is not None
    handler.hold.set()
    await until(lambda: len(handler.batches) == 2)
    assert handler.batches[1] == [(0, 1)]
    await consumer.stop()


async def test_stop_finishes_the_batch_drains_then_leaves() -> None:
    consumer, topic, handler, drained = await started()
    await hold_on_a_first_batch(topic, handler)
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.01)
    assert not stopping.done() and not topic.member.stopped  # the batch is still handled
    assert handler.hold is not None
    handler.hold.set()
    await stopping
    assert drained == ["drained"] and topic.member.stopped


async def test_a_handler_that_raises_does_not_stop_the_consumer() -> None:
    consumer, topic, handler, _ = await started()
    handler.raise_once = True
    topic.arrive(0)
    await until(lambda: len(handler.batches) == 1)
    topic.arrive(0)
    await until(lambda: len(handler.batches) == 2)
    assert consumer.running
    await consumer.stop()
    assert not consumer.running


async def test_a_consumer_that_never_started_stops_quietly() -> None:
    topic = Topic()
    consumer = TopicConsumer(
        TOPIC, Handler(), group_id="g", bootstrap_servers="unused", consumer=topic.member
    )
    await consumer.stop()  # start-up failed before this consumer's turn
    assert topic.member.stopped and not consumer.running
