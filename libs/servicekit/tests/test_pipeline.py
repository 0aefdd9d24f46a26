"""The two-stage pipeline: batch N+1 is planned while batch N is flushed; offsets are committed
in order, after their flush, in the background; a failed flush rewinds to the committed offsets
and nothing planned after it is written."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from servicekit.delivery import Consumed
from servicekit.pipeline import Pipeline

TP = TopicPartition("t", 0)


def records(*offsets: int, partition: int = 0) -> list[Consumed]:
    return [Consumed("t", partition, o, None, {}, b"") for o in offsets]


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.hold_commit: asyncio.Event | None = None  # commits wait for it when set
        self.fail_commit = 0  # commits to fail
        self.seeks: list[tuple[TopicPartition, int]] = []
        self._committed: dict[TopicPartition, int] = {}
        self._position: dict[TopicPartition, int] = {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.hold_commit is not None:
            await self.hold_commit.wait()
        if self.fail_commit:
            self.fail_commit -= 1
            raise RuntimeError("the coordinator moved")
        self.commits.append(dict(offsets))
        self._committed.update(offsets)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self._committed.get(partition)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))
        self._position[partition] = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> bool:
        for tp in partitions:
            self.seek(tp, 0)
        return True

    async def position(self, partition: TopicPartition) -> int:
        return self._position.get(partition, 0)

    def fetched(self, batch: list[Consumed]) -> list[Consumed]:
        """As aiokafka's getmany: the position moves past what it hands out."""
        for record in batch:
            tp = TopicPartition(record.topic, record.partition)
            self._position[tp] = max(self._position.get(tp, 0), record.offset + 1)
        return batch

    def assignment(self) -> set[TopicPartition]:
        return {TP}


class Service:
    """Records what happens, in order; flushes can be held or made to fail."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.hold: dict[int, asyncio.Event] = {}  # first offset -> released when set
        self.fail_flush: set[int] = set()
        self.fail_plan: set[int] = set()
        self.forgotten = 0

    async def plan(self, batch: list[Consumed]) -> Any:
        first = batch[0].offset
        if first in self.fail_plan:
            raise ValueError("cannot plan")
        self.log.append(f"plan {first}")

        async def flush() -> None:
            self.log.append(f"flush {first}")
            if first in self.hold:
                await self.hold[first].wait()
            if first in self.fail_flush:
                self.fail_flush.discard(first)
                raise RuntimeError("MongoDB went away")
            self.log.append(f"flushed {first}")

        return flush

    async def safe(self, batch: list[Consumed]) -> None:
        self.log.append(f"safe {batch[0].offset}")

    def forget(self) -> None:
        self.forgotten += 1


def pipeline() -> tuple[Pipeline, Service, FakeConsumer]:
    service = Service()
    return (
        Pipeline(
            service.plan, service.safe, service.forget, name="test", overlap_from=1, commit_every=0
        ),
        service,
        FakeConsumer(),
    )


async def test_the_next_batch_is_planned_while_the_last_one_is_flushed() -> None:
    pipe, service, consumer = pipeline()
    service.hold[0] = asyncio.Event()
    await pipe.handle(consumer, records(0, 1))
    second = asyncio.create_task(pipe.handle(consumer, records(2, 3)))
    await asyncio.sleep(0.01)
    assert service.log == ["plan 0", "flush 0", "plan 2"]  # planned during the flush of 0
    assert consumer.commits == []  # nothing is committed before its flush is done
    assert not second.done()  # one flush in flight while planning: the next poll waits
    service.hold[0].set()
    await second
    await pipe.drain()
    assert service.log == ["plan 0", "flush 0", "plan 2", "flushed 0", "flush 2", "flushed 2"]
    assert consumer.commits in ([{TP: 2}, {TP: 4}], [{TP: 4}])  # in order, after the flushes


async def test_a_failed_flush_rewinds_and_nothing_planned_after_it_is_written() -> None:
    pipe, service, consumer = pipeline()
    fetched = consumer.fetched
    await pipe.handle(consumer, fetched(records(0, 1)))
    await pipe.drain()
    service.hold[2] = asyncio.Event()
    service.fail_flush.add(2)
    await pipe.handle(consumer, fetched(records(2, 3)))
    planned_on_top = asyncio.create_task(pipe.handle(consumer, fetched(records(4, 5))))
    await asyncio.sleep(0.01)
    stale = fetched(records(6, 7))  # handed out before the rewind
    service.hold[2].set()
    await planned_on_top
    await pipe.drain()
    assert "flush 4" not in service.log
    assert consumer.commits == [{TP: 2}]
    assert consumer.seeks == [(TP, 2)] and service.forgotten >= 1

    # a batch fetched before the rewind is dropped: it comes again after the rewound records
    await pipe.handle(consumer, stale)
    assert "plan 6" not in service.log and "safe 6" not in service.log
    # the records the failure covered come again and are handled the plain way
    await pipe.handle(consumer, fetched(records(2, 3, 4, 5)))
    assert service.log[-1] == "safe 2"
    assert consumer.commits[-1] == {TP: 6}
    # after them, planning goes on
    await pipe.handle(consumer, fetched(records(6, 7)))
    await pipe.drain()
    assert service.log[-3:] == ["plan 6", "flush 6", "flushed 6"]
    assert consumer.commits[-1] == {TP: 8}


async def test_after_a_rewind_a_partition_no_longer_assigned_is_left_alone() -> None:
    pipe, service, consumer = pipeline()
    await pipe.handle(consumer, consumer.fetched(records(0)))
    await pipe.drain()
    service.fail_flush.add(1)
    await pipe.handle(consumer, consumer.fetched(records(1)))
    await pipe.drain()  # failed: rewound
    other = records(5, partition=1)  # a partition this consumer does not hold

    async def unassigned(partition: TopicPartition) -> int:
        raise RuntimeError("not assigned")

    consumer.position = unassigned  # type: ignore[method-assign]
    await pipe.handle(consumer, other)
    assert "plan 5" not in service.log and "safe 5" not in service.log


async def test_a_batch_that_cannot_be_planned_goes_plainly_after_the_flush_in_flight() -> None:
    pipe, service, consumer = pipeline()
    service.hold[0] = asyncio.Event()
    service.fail_plan.add(2)
    await pipe.handle(consumer, records(0, 1))
    handling = asyncio.create_task(pipe.handle(consumer, records(2, 3)))
    await asyncio.sleep(0.01)
    assert "safe 2" not in service.log  # waits for the flush in flight
    service.hold[0].set()
    await handling
    assert service.log == ["plan 0", "flush 0", "flushed 0", "safe 2"]
    assert consumer.commits == [{TP: 2}, {TP: 4}]


async def test_handling_never_raises_and_rewinds_on_the_unexpected() -> None:
    pipe, service, consumer = pipeline()
    await pipe.handle(consumer, records(0))
    await pipe.drain()

    async def broken(batch: list[Consumed]) -> None:
        raise RuntimeError("bug")

    service.fail_plan.add(1)
    pipe._safe = broken  # type: ignore[method-assign]
    await pipe.handle(consumer, records(1))  # plan fails, then the plain way fails too
    assert consumer.seeks == [(TP, 1)]
    assert consumer.commits == [{TP: 1}]


async def test_a_small_batch_is_flushed_before_the_next_poll() -> None:
    service = Service()
    pipe = Pipeline(service.plan, service.safe, service.forget, name="test", overlap_from=3)
    consumer = FakeConsumer()
    service.hold[0] = asyncio.Event()
    first = asyncio.create_task(pipe.handle(consumer, records(0, 1)))
    await asyncio.sleep(0.01)
    assert not first.done()  # two records: flushed at once, not overlapped
    service.hold[0].set()
    await first
    assert service.log[-1] == "flushed 0"
    await pipe.handle(consumer, records(2, 3, 4))  # three: overlapped with the next plan
    assert "flushed 2" not in service.log
    await pipe.drain()
    assert service.log[-1] == "flushed 2"
    assert consumer.commits[-1] == {TP: 5}


def committing_pipeline(every: float) -> tuple[Pipeline, Service, FakeConsumer]:
    service = Service()
    pipe = Pipeline(service.plan, service.safe, service.forget, name="test", commit_every=every)
    return pipe, service, FakeConsumer()


async def test_offsets_are_committed_in_the_background_what_was_flushed_meanwhile_at_once() -> None:
    pipe, service, consumer = committing_pipeline(0.05)
    await pipe.handle(consumer, records(0))
    await pipe.handle(consumer, records(1, 2))
    assert service.log[-1] == "flushed 1" and consumer.commits == []  # not waited for
    await asyncio.sleep(0.1)
    assert consumer.commits == [{TP: 3}]  # both batches in one commit


async def test_a_batch_does_not_wait_for_the_commit_before_it() -> None:
    pipe, service, consumer = committing_pipeline(0)
    consumer.hold_commit = asyncio.Event()
    await pipe.handle(consumer, records(0))
    await asyncio.sleep(0.01)  # the commit of 0 is in flight, held
    await pipe.handle(consumer, records(1))
    assert service.log[-1] == "flushed 1"
    consumer.hold_commit.set()
    await pipe.drain()
    assert consumer.commits == [{TP: 1}, {TP: 2}]  # what came during a commit: the next one


async def test_a_failed_commit_is_covered_by_the_next_and_rewinds_nothing() -> None:
    pipe, _service, consumer = committing_pipeline(0)
    consumer.fail_commit = 1
    await pipe.handle(consumer, records(0))
    await pipe.drain()
    assert consumer.commits == [] and consumer.seeks == []
    await pipe.handle(consumer, records(1))
    await pipe.drain()
    assert consumer.commits == [{TP: 2}]


async def test_a_rewind_first_commits_what_was_flushed() -> None:
    pipe, service, consumer = committing_pipeline(10)  # no commit would come by itself
    await pipe.handle(consumer, consumer.fetched(records(0, 1)))
    service.fail_flush.add(2)
    await pipe.handle(consumer, consumer.fetched(records(2)))
    assert consumer.commits == [{TP: 2}]
    assert consumer.seeks == [(TP, 2)]  # only the failed batch comes again
