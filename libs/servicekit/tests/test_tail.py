"""TopicTail: every partition from its end, no group; what was published before start-up is
not delivered, what comes after is, from every partition; a failed start is retried."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from servicekit.delivery import Consumed
from servicekit.tail import TopicTail
from servicekit.testing import MemoryBroker, MemoryRecord

TOPIC = "replies"


class TailConsumer:
    """aiokafka's consumer as a tail uses it (assign, seek_to_end, getmany), on a
    MemoryBroker; ``fail_starts``: how many starts raise first."""

    def __init__(self, broker: MemoryBroker, fail_starts: list[int]) -> None:
        self.broker = broker
        self.fail_starts = fail_starts
        self.positions: dict[TopicPartition, int] = {}
        self.stopped = False

    async def start(self) -> None:
        if self.fail_starts and self.fail_starts[0] > 0:
            self.fail_starts[0] -= 1
            raise KafkaConnectionError("no broker")

    @property
    def _client(self) -> TailConsumer:
        return self  # what the tail asks of aiokafka's client, and of its cluster metadata

    async def fetch_all_metadata(self) -> TailConsumer:
        return self

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {tp.partition for tp in self.broker.partitions_of(topic)}

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.positions = dict.fromkeys(partitions, 0)

    async def seek_to_end(self, *partitions: TopicPartition) -> None:
        for tp in partitions:
            self.positions[tp] = self.broker.highwater(tp)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[MemoryRecord]]:
        fetched = {}
        for tp, at in self.positions.items():
            records = self.broker.read(tp, at)
            if records:
                fetched[tp] = records
                self.positions[tp] = records[-1].offset + 1
        if not fetched:
            await asyncio.sleep(0.005)
        return fetched

    async def stop(self) -> None:
        self.stopped = True


async def until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def tailing(broker: MemoryBroker, fail_starts: int = 0) -> tuple[TopicTail, list[Consumed]]:
    seen: list[Consumed] = []

    async def on_records(records: list[Consumed]) -> None:
        seen.extend(records)

    failures = [fail_starts]
    tail = TopicTail(
        TOPIC,
        on_records,
        bootstrap_servers="unused",
        consumer=lambda: TailConsumer(broker, failures),
    )
    return tail, seen


async def test_a_tail_sees_every_partition_from_the_end() -> None:
    broker = MemoryBroker(partitions=3)
    broker.append(TOPIC, b"before", key=b"c1")
    tail, seen = await tailing(broker)
    task = asyncio.create_task(tail.run())
    try:
        await until(lambda: tail._positioned)
        assert await tail.ready()
        for p in range(3):
            broker.append(TOPIC, f"after {p}".encode(), partition=p)
        await until(lambda: len(seen) == 3)
        assert sorted(r.value for r in seen) == [b"after 0", b"after 1", b"after 2"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not await tail.ready()


async def test_a_failed_start_is_retried_and_a_raising_handler_does_not_stop_it(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr("servicekit.tail.RETRY_SECONDS", 0.01)
    broker = MemoryBroker(partitions=2)
    calls: list[int] = []

    async def on_records(records: list[Consumed]) -> None:
        calls.append(len(records))
        if len(calls) == 1:
            raise RuntimeError("a bug in the handler")

    failures = [2]
    tail = TopicTail(
        TOPIC,
        on_records,
        bootstrap_servers="unused",
        consumer=lambda: TailConsumer(broker, failures),
    )
    task = asyncio.create_task(tail.run())
    try:
        await until(lambda: tail._positioned)
        assert failures == [0]  # two starts failed, the third one took
        broker.append(TOPIC, b"one", partition=0)
        await until(lambda: len(calls) == 1)
        broker.append(TOPIC, b"two", partition=1)
        await until(lambda: len(calls) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
