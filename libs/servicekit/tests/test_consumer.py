"""TopicConsumer: records are taken from aiokafka while the batch before them is handled, and
handed over together; a seek or a revocation drops what was read of those partitions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from servicekit.consumer import TopicConsumer
from servicekit.delivery import Consumed

TOPIC = "t"


@dataclass
class Record:
    partition: int
    offset: int
    topic: str = TOPIC
    key: bytes | None = None
    value: bytes = b"{}"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class FakeAiokafka:
    """What TopicConsumer uses of AIOKafkaConsumer; ``arrive`` makes records fetchable."""

    def __init__(self) -> None:
        self.fetchable: asyncio.Queue[list[Record]] = asyncio.Queue()
        self.listener: Any = None
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.stopped = False

    def arrive(self, *records: Record) -> None:
        self.fetchable.put_nowait(list(records))

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Record]]:
        try:
            records = await asyncio.wait_for(self.fetchable.get(), timeout_ms / 1000)
        except TimeoutError:
            return {}
        fetched: dict[TopicPartition, list[Record]] = {}
        for r in records:
            fetched.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
        return fetched

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


class Handler:
    """Records each batch's offsets; a batch can be held until released."""

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


async def hold_on_a_first_batch(aio: FakeAiokafka, handler: Handler) -> None:
    """The handler busy with a first batch (record 0 of partition 0) until released."""
    handler.hold = asyncio.Event()
    aio.arrive(Record(0, 0))
    await until(lambda: handler.batches == [[(0, 0)]])


async def started(max_records: int = 100) -> tuple[TopicConsumer, FakeAiokafka, Handler, list[str]]:
    aio, handler, drained = FakeAiokafka(), Handler(), []

    async def drain() -> None:
        drained.append("drained")

    consumer = TopicConsumer(
        TOPIC,
        handler,
        group_id="g",
        bootstrap_servers="unused",
        max_records=max_records,
        drain=drain,
        consumer=aio,
    )
    await consumer.start()
    return consumer, aio, handler, drained


async def test_records_arriving_during_a_batch_are_read_at_once_and_handled_together() -> None:
    consumer, aio, handler, _ = await started()
    await hold_on_a_first_batch(aio, handler)
    aio.arrive(Record(0, 1))
    aio.arrive(Record(1, 0))
    aio.arrive(Record(0, 2))
    # taken from aiokafka while the first batch is still being handled (so it fetches again)
    await until(lambda: aio.fetchable.empty())
    assert len(handler.batches) == 1
    handler.hold.set()
    await until(lambda: len(handler.batches) == 2)
    assert handler.batches[1] == [(0, 1), (1, 0), (0, 2)]
    await consumer.stop()


async def test_a_batch_is_at_most_max_records() -> None:
    consumer, aio, handler, _ = await started(max_records=2)
    await hold_on_a_first_batch(aio, handler)
    aio.arrive(*(Record(0, o) for o in range(1, 6)))
    await until(lambda: aio.fetchable.empty())
    handler.hold.set()
    await until(lambda: len(handler.batches) == 4)
    assert handler.batches[1:] == [[(0, 1), (0, 2)], [(0, 3), (0, 4)], [(0, 5)]]
    await consumer.stop()


async def test_a_seek_drops_what_was_read_of_that_partition_only() -> None:
    consumer, aio, handler, _ = await started()
    await hold_on_a_first_batch(aio, handler)
    aio.arrive(Record(0, 1), Record(1, 5), Record(0, 2))
    await until(lambda: aio.fetchable.empty())
    await asyncio.sleep(0.01)
    consumer.seek(TopicPartition(TOPIC, 0), 1)  # the pipeline rewinds partition 0
    assert aio.seeks == [(TopicPartition(TOPIC, 0), 1)]
    handler.hold.set()
    await until(lambda: len(handler.batches) == 2)
    assert handler.batches[1] == [(1, 5)]  # partition 0's records come again from aiokafka
    await consumer.stop()


async def test_revoked_partitions_are_dropped_and_the_work_in_flight_drained() -> None:
    consumer, aio, handler, drained = await started()
    await hold_on_a_first_batch(aio, handler)
    aio.arrive(Record(0, 1), Record(1, 1))
    await until(lambda: aio.fetchable.empty())
    await asyncio.sleep(0.01)
    await aio.listener.on_partitions_revoked([TopicPartition(TOPIC, 1)])
    assert drained == ["drained"]
    handler.hold.set()
    await until(lambda: len(handler.batches) == 2)
    assert handler.batches[1] == [(0, 1)]
    await consumer.stop()


async def test_stop_finishes_the_batch_drains_then_leaves() -> None:
    consumer, aio, handler, drained = await started()
    await hold_on_a_first_batch(aio, handler)
    stopping = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.01)
    assert not stopping.done() and not aio.stopped  # the batch is still being handled
    handler.hold.set()
    await stopping
    assert drained == ["drained"] and aio.stopped


async def test_a_handler_that_raises_does_not_stop_the_consumer() -> None:
    consumer, aio, handler, _ = await started()
    handler.raise_once = True
    aio.arrive(Record(0, 0))
    await until(lambda: len(handler.batches) == 1)
    aio.arrive(Record(0, 1))
    await until(lambda: len(handler.batches) == 2)
    assert consumer.running
    await consumer.stop()
    assert not consumer.running


async def test_a_consumer_that_never_started_stops_quietly() -> None:
    aio = FakeAiokafka()
    consumer = TopicConsumer(
        TOPIC, Handler(), group_id="g", bootstrap_servers="unused", consumer=aio
    )
    await consumer.stop()  # start-up failed before this consumer's turn
    assert aio.stopped and not consumer.running
