"""Records handled concurrently, offsets committed in order: for a consumer whose records wait
on something slow and unequal (a provider's rate limit), so a record that waits does not hold
up the records behind it.

The batch handler gives every record its own task and returns at once (the consumer reads on);
it waits only while ``limit`` records are in flight. A partition's offset is committed up to
its oldest record still in flight, in the background: a crash redelivers what was not finished
(the handler makes that harmless: the integrations' call records), nothing is skipped.

Each record follows the delivery rule (servicekit.delivery: attempts, then the dead-letter
topic). A task that fails beyond that (the dead letter could not be published) is tried again
after a pause, so its offset is never committed past it.

``drain`` (before partitions go, and at stop) cancels the tasks that have not begun their work
(``begun()`` was not called: they wait in a queue) and waits for the others; their records come
again to whoever has the partition next (aiokafka resumes an assigned partition from its
committed offset)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from servicekit.delivery import Consumed
from servicekit.pipeline import Consumer

log = logging.getLogger(__name__)

Work = Callable[[Consumed, Callable[[], None]], Awaitable[None]]
"""``work(record, begun)``: handle the record (delivery rule inside); call ``begun()`` when
its outside effect starts, after which a drain waits for it instead of cancelling it."""


@dataclass
class _Partition:
    pending: set[int] = field(default_factory=set)  # offsets in flight
    next: int = 0  # the offset after the last record taken

    def committable(self) -> int:
        return min(self.pending) if self.pending else self.next


class Concurrent:
    def __init__(
        self,
        work: Work,
        *,
        name: str,
        limit: int = 10_000,
        commit_every: float = 0.2,
        retry_after: float = 1.0,
    ) -> None:
        self._work = work
        self._name = name
        self._limit = limit
        self._commit_every = commit_every
        self._retry_after = retry_after
        self._partitions: dict[TopicPartition, _Partition] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._tasks: dict[asyncio.Task[None], bool] = {}  # task -> begun
        self._room = asyncio.Event()
        self._room.set()
        self._committer: asyncio.Task[None] | None = None
        self._consumer: Consumer | None = None

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def handle(self, consumer: Consumer, records: list[Consumed]) -> None:
        """Start a task per record; back only when there is room for more."""
        self._consumer = consumer
        for record in records:
            await self._room.wait()
            tp = TopicPartition(record.topic, record.partition)
            partition = self._partitions.setdefault(tp, _Partition())
            partition.pending.add(record.offset)
            partition.next = max(partition.next, record.offset + 1)
            task = asyncio.create_task(self._run(record, tp), name=f"{self._name} {record.offset}")
            self._tasks[task] = False
            if len(self._tasks) >= self._limit:
                self._room.clear()
        self._commit_soon()

    async def _run(self, record: Consumed, tp: TopicPartition) -> None:
        task = asyncio.current_task()
        assert task is not None

        def begun() -> None:
            if task in self._tasks:
                self._tasks[task] = True

        try:
            while True:
                try:
                    await self._work(record, begun)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception(
                        "%s: %s@%d failed beyond the delivery rule: again in %ss",
                        self._name,
                        record.topic,
                        record.offset,
                        self._retry_after,
                    )
                    await asyncio.sleep(self._retry_after)
            partition = self._partitions.get(tp)
            if partition is not None:
                partition.pending.discard(record.offset)
                self._commit_soon()
        finally:
            self._tasks.pop(task, None)
            if len(self._tasks) < self._limit:
                self._room.set()

    def _commit_soon(self) -> None:
        if self._consumer is not None and (self._committer is None or self._committer.done()):
            self._committer = asyncio.create_task(self._commit_later(self._consumer))

    async def _commit_later(self, consumer: Consumer) -> None:
        await asyncio.sleep(self._commit_every)
        await self._commit(consumer)

    async def _commit(self, consumer: Consumer) -> None:
        offsets = {
            tp: p.committable()
            for tp, p in self._partitions.items()
            if p.committable() > self._committed.get(tp, -1)
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as exc:  # a later commit covers them, or they come again
            log.warning("%s: committing %s failed (%r)", self._name, offsets, exc)
            return
        self._committed.update(offsets)

    async def drain(self) -> None:
        """Cancel what has not begun, wait for what has, commit: the partitions may go."""
        waiting = [t for t, begun in self._tasks.items() if not begun]
        for task in waiting:
            task.cancel()
        running = list(self._tasks)
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        if self._committer is not None and not self._committer.done():
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        if self._consumer is not None:
            await self._commit(self._consumer)
        # what was cancelled comes again from the committed offsets
        self._partitions.clear()
        self._committed.clear()
