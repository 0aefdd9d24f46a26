"""Two stages per consumer: batch N+1 is computed while batch N is written, sent and committed.

Handled in turn, a consumed batch keeps this process, MongoDB and Kafka busy one after the
other: the engine computes, then waits for the writes, then for the sends. Here a batch's
*plan* (the reads and the engine, all in memory) runs while the previous batch's *flush* (its
writes, its sends, then the commit of its offsets) is in flight. Flushes stay one at a time and
in order, each after the one before it succeeded, so offsets are committed in order and only
after their batch is durable and sent — the delivery rule of docs/architecture.md holds.

What a plan may not see, a flush not yet written, the service keeps in memory (the documents
being written) until the flush is done. When a flush fails, nothing after it is written: the
consumer is rewound to the committed offsets, the service forgets its plans, and the records
come again; those the failure covered are handled the plain way (``safe``: one batch, then one
record at a time, a poison record dead-lettered alone). A record that cannot be planned is
handled the same plain way, after the flush in flight.

Offsets are committed in the background, at most every ``commit_every`` seconds (what was
flushed meanwhile in one commit, in order): a commit is a Kafka round trip that the next batch
need not wait for. A crash loses only the commits not yet made, and their records come again
(redelivery changes nothing; docs/architecture.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from aiokafka import TopicPartition

from servicekit.delivery import Consumed

log = logging.getLogger(__name__)

Flush = Callable[[], Awaitable[None]]
Plan = Callable[[list[Consumed]], Awaitable[Flush]]
Safe = Callable[[list[Consumed]], Awaitable[None]]


class Consumer(Protocol):
    """What the pipeline uses of aiokafka's consumer."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    async def committed(self, partition: TopicPartition) -> int | None: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    async def seek_to_beginning(self, *partitions: TopicPartition) -> bool: ...

    async def position(self, partition: TopicPartition) -> int: ...

    def assignment(self) -> set[TopicPartition]: ...


def _tp(record: Consumed) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


def next_offsets(records: Sequence[Consumed]) -> dict[TopicPartition, int]:
    """Per partition, the offset after the batch's last record: what to commit."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        offsets[_tp(record)] = max(offsets.get(_tp(record), 0), record.offset + 1)
    return offsets


class Pipeline:
    def __init__(
        self,
        plan: Plan,
        safe: Safe,
        forget: Callable[[], None],
        *,
        name: str,
        overlap_from: int = 16,
        commit_every: float = 0.1,
    ) -> None:
        """``plan``: compute a batch, return its flush; ``safe``: handle a batch the plain way
        (write, send, dead-letter a poison record); ``forget``: drop every plan's state;
        ``overlap_from``: the smallest batch whose flush overlaps the next plan;
        ``commit_every``: seconds between background commits."""
        self._overlap_from = overlap_from
        self._commit_every = commit_every
        self._uncommitted: dict[TopicPartition, int] = {}  # flushed, offsets not yet committed
        self._committer: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()  # commit what is pending now
        self._plan = plan
        self._safe = safe
        self._forget = forget
        self._name = name
        self._tail: asyncio.Task[bool] | None = None  # the last flush; True when it succeeded
        self._epoch = 0  # rewinds so far: a batch taken before the last one is stale
        self._seen: dict[TopicPartition, int] = {}  # offset after the last record taken
        self._replay: dict[TopicPartition, int] = {}  # records below: handled the plain way

    async def handle(self, consumer: Consumer, records: list[Consumed]) -> None:
        """Never raises: a record must not be skipped by a consumer that moved on past it."""
        try:
            await self._handle(consumer, records)
        except Exception:
            log.exception(
                "%s: handling a batch failed: rewinding to the committed offsets", self._name
            )
            await self.drain()
            await self._rewind(consumer)

    async def drain(self) -> None:
        """Wait until no flush is in flight and what was flushed is committed (before
        handling plainly; at shutdown; tests)."""
        await self._flushed()
        await self._commit_pending()

    async def _flushed(self) -> None:
        tail, self._tail = self._tail, None
        if tail is not None:
            await tail

    async def _handle(self, consumer: Consumer, records: list[Consumed]) -> None:
        if self._epoch:
            records = await self._current(consumer, records)
        if not records:
            return
        epoch = self._epoch
        for tp, offset in next_offsets(records).items():
            self._seen[tp] = max(self._seen.get(tp, 0), offset)
        if any(r.offset < self._replay.get(_tp(r), 0) for r in records):
            await self._plainly(consumer, records, epoch)
            return
        try:
            flush = await self._plan(records)
        except Exception as exc:
            log.warning("%s: a batch could not be planned (%r): handled plainly", self._name, exc)
            await self._plainly(consumer, records, epoch)
            return
        if self._epoch != epoch:
            return  # rewound while planning: the plan is forgotten, the records come again
        previous = self._tail
        self._tail = asyncio.create_task(self._flush(previous, flush, consumer, records, epoch))
        if len(records) < self._overlap_from:
            # A small batch: the load is light, and planning the next one would only hold
            # this flush up (both need this process): flushed before the next poll.
            await self._flushed()
        elif previous is not None:
            # One flush in flight while the next batch is planned, no more: the records that
            # arrive meanwhile make the next batch (a longer queue would only make it smaller).
            await previous

    async def _flush(
        self,
        previous: asyncio.Task[bool] | None,
        flush: Flush,
        consumer: Consumer,
        records: list[Consumed],
        epoch: int,
    ) -> bool:
        if (previous is not None and not await previous) or self._epoch != epoch:
            return False  # planned on top of a failed flush: forgotten, its records come again
        try:
            await flush()
        except Exception as exc:
            log.warning(
                "%s: a flush failed (%r): rewinding to the committed offsets", self._name, exc
            )
            await self._rewind(consumer)
            return False
        self._commit_later(consumer, next_offsets(records))
        return True

    def _commit_later(self, consumer: Consumer, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self._uncommitted[tp] = max(self._uncommitted.get(tp, 0), offset)
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_in_background(consumer))

    async def _commit_in_background(self, consumer: Consumer) -> None:
        """One commit at a time, so offsets are committed in order; what is flushed during a
        commit goes with the next one."""
        while self._uncommitted:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), self._commit_every)
            offsets, self._uncommitted = self._uncommitted, {}
            try:
                await consumer.commit(offsets)
            except Exception as exc:
                # Their records were handled: a later commit covers them, or, after a crash
                # or a rebalance, they come again and change nothing.
                log.warning("%s: committing %s failed (%r)", self._name, offsets, exc)

    async def _commit_pending(self) -> None:
        committer = self._committer
        if committer is not None and not committer.done():
            self._hurry.set()
            try:
                await committer
            finally:
                self._hurry.clear()

    async def _plainly(self, consumer: Consumer, records: list[Consumed], epoch: int) -> None:
        """After the flush in flight: the batch at once, or record by record (``safe``)."""
        await self.drain()
        if self._epoch != epoch:
            return  # that flush failed and rewound: these records come again
        self._forget()  # plain handling reads and writes for itself
        await self._safe(records)
        offsets = next_offsets(records)
        await consumer.commit(offsets)
        for tp, offset in offsets.items():
            if offset >= self._replay.get(tp, 0):
                self._replay.pop(tp, None)

    async def _rewind(self, consumer: Consumer) -> None:
        """Back to the committed offsets of every assigned partition; what was planned is
        forgotten, and the records up to what was taken are handled plainly when they return."""
        self._epoch += 1
        self._forget()
        await self._commit_pending()  # what was flushed before does not come again
        for tp in consumer.assignment():
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
                committed = 0
            else:
                consumer.seek(tp, committed)
            if self._seen.get(tp, 0) > committed:
                self._replay[tp] = max(self._replay.get(tp, 0), self._seen[tp])

    async def _current(self, consumer: Consumer, records: list[Consumed]) -> list[Consumed]:
        """Without the records fetched before a rewind (they come again after the rewound
        ones). The consumer's position is past every record it has handed out since, and back
        at the rewind for one it handed out before; a partition no longer assigned is another
        consumer's now."""
        positions: dict[TopicPartition, int] = {}
        for tp in {_tp(r) for r in records}:
            try:
                positions[tp] = await consumer.position(tp)
            except Exception:  # not assigned any more (a rebalance)
                positions[tp] = -1
        return [r for r in records if r.offset < positions[_tp(r)]]
