"""A topic's consumer: records are read while the batch before them is handled.

aiokafka fetches in the background, but sends no fetch to a broker while a record it fetched
from that broker is still unconsumed. Polled the usual way (poll, handle the batch, poll again),
the first record to arrive during a batch is fetched and the rest wait for the next poll to
be fetched at all: they are handled two batches later. FastStream's batch subscriber adds a
sleep after every empty poll (a wake-up every ~10 ms per topic on a quiet system).

Here a *reader* task takes every record aiokafka has as soon as it has it (so aiokafka fetches
again at once) into this consumer's buffer, and the *handler* task gives everything buffered
so far, up to ``max_records``, to ``handle`` as one batch. The buffer is bounded
(``max_buffered``: the reader waits while it is full). Offsets are the handler's business
(``handle`` commits them itself; auto-commit is off); a seek drops the buffered records of
that partition (they come again from the new position), and so does a partition going to
another consumer of the group, after the handler's work in flight is drained (``drain``) so
its offsets are committed while they are still this consumer's; the same at stop.

Every consuming service uses this one consumer (the executor with its pipeline; the others
through ``servicekit.consuming``): why not FastStream's subscribers is in docs/architecture.md,
*Reading while handling*."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

from servicekit import metrics
from servicekit.delivery import Consumed

log = logging.getLogger(__name__)

Handle = Callable[["TopicConsumer", list[Consumed]], Awaitable[None]]
Partitions = Callable[[set[TopicPartition]], Awaitable[None]]
LAG_EVERY = 1.0  # seconds between updates of the lag gauge


class TopicConsumer:
    def __init__(
        self,
        topic: str,
        handle: Handle,
        *,
        group_id: str,
        bootstrap_servers: str,
        max_records: int = 100,
        max_buffered: int = 1000,
        name: str | None = None,
        drain: Callable[[], Awaitable[None]] | None = None,
        on_assigned: Partitions | None = None,
        on_revoked: Partitions | None = None,
        consumer: Any = None,
        new_group_from: str = "earliest",
        fetch_min_bytes: int = 1,
    ) -> None:
        """``handle(consumer, records)`` must not raise (it is the pipeline's ``handle``);
        ``name``: the consumer in metrics (default: the group); ``drain``: finish the work in
        flight and commit what was handled (before partitions go, and at stop);
        ``on_assigned``/``on_revoked``: told the partitions this member gets and gives up
        (after the drain); ``consumer``: an aiokafka consumer already made (tests);
        ``new_group_from``: where a group without committed offsets starts, ``earliest`` (the
        default: nothing published is skipped) or ``latest`` (a consumer of what happens from
        now on); ``fetch_min_bytes``: the broker answers a fetch once it has that much, or
        after half a second (a consumer that can wait reads in fewer, larger batches: less
        CPU for the broker and for it)."""
        self.topic = topic
        self.group_id = group_id
        self.name = name or group_id
        self._handle = handle
        self._max_records = max_records
        self._max_buffered = max_buffered
        self._drain = drain
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        self.joined = False  # the group gave this member its partitions (readiness)
        self._lag = metrics.CONSUMER_LAG.labels(group_id, topic)
        self._batch_size = metrics.BATCH_SIZE.labels(self.name, topic)
        self._consumed = metrics.MESSAGES_CONSUMED.labels(self.name, topic)
        self._lag_at = 0.0
        self._consumer = consumer or AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,  # handle commits, after its batch is durable and sent
            auto_offset_reset=new_group_from,
            fetch_min_bytes=fetch_min_bytes,
            fetch_max_wait_ms=500,
        )
        self._buffer: deque[Consumed] = deque()
        self._readable = asyncio.Event()  # the buffer has room
        self._ready = asyncio.Event()  # the buffer has records
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._consumer.subscribe([self.topic], listener=_Listener(self))
        await self._consumer.start()
        self._readable.set()
        self._tasks = [
            asyncio.create_task(self._read(), name=f"read {self.topic}"),
            asyncio.create_task(self._handle_batches(), name=f"handle {self.topic}"),
        ]

    async def stop(self, timeout: float = 10.0) -> None:
        """The batch being handled is finished and drained, then the consumer leaves its
        group; what was read and not handled comes again (to whoever has the partition)."""
        self._stopping = True
        self._ready.set()
        if not self._tasks:  # never started (start-up failed before it)
            await self._consumer.stop()
            return
        reader, handler = self._tasks
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        try:
            await asyncio.wait_for(handler, timeout)
            if self._drain is not None:
                await asyncio.wait_for(self._drain(), timeout)
        except TimeoutError:
            log.warning("%s: the batch in flight did not finish in %s s", self.topic, timeout)
        await self._consumer.stop()

    @property
    def running(self) -> bool:
        """Both tasks alive (the health check)."""
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    # -- what the pipeline uses (runtime/pipeline.Consumer) --

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self._consumer.commit(offsets)

    async def committed(self, partition: TopicPartition) -> int | None:
        committed: int | None = await self._consumer.committed(partition)
        return committed

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._drop([partition])
        self._consumer.seek(partition, offset)

    async def seek_to_beginning(self, *partitions: TopicPartition) -> bool:
        self._drop(partitions)
        return bool(await self._consumer.seek_to_beginning(*partitions))

    async def position(self, partition: TopicPartition) -> int:
        position: int = await self._consumer.position(partition)
        return position

    def assignment(self) -> set[TopicPartition]:
        assigned: set[TopicPartition] = self._consumer.assignment()
        return assigned

    # -- the two tasks --

    async def _read(self) -> None:
        while not self._stopping:
            await self._readable.wait()
            try:
                fetched = await self._consumer.getmany(timeout_ms=1000)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                log.warning("%s: reading failed (%r): retrying in 1 s", self.topic, exc)
                await asyncio.sleep(1)
                continue
            for records in fetched.values():
                self._buffer.extend(Consumed.from_record(r) for r in records)
            if self._buffer:
                self._ready.set()
            if len(self._buffer) >= self._max_buffered:
                self._readable.clear()
            await self._measure_lag()

    async def _measure_lag(self) -> None:
        """Records on the assigned partitions not yet handed to the handler: the broker's
        high watermark minus what was fetched, plus what waits in the buffer."""
        now = asyncio.get_running_loop().time()
        if now - self._lag_at < LAG_EVERY:
            return
        self._lag_at = now
        behind = len(self._buffer)
        try:
            for tp in self._consumer.assignment():
                highwater = self._consumer.highwater(tp)
                if highwater is not None:
                    behind += max(0, highwater - await self._consumer.position(tp))
        except Exception:  # a rebalance in between: measured next time
            return
        self._lag.set(behind)

    async def _handle_batches(self) -> None:
        while True:
            await self._ready.wait()
            if self._stopping:
                return
            count = min(len(self._buffer), self._max_records)
            batch = [self._buffer.popleft() for _ in range(count)]
            if not self._buffer:
                self._ready.clear()
            if len(self._buffer) < self._max_buffered:
                self._readable.set()
            if batch:
                self._batch_size.observe(len(batch))
                self._consumed.inc(len(batch))
                try:
                    await self._handle(self, batch)
                except Exception:  # handle is not to raise; the loop must not die of it
                    log.exception("%s: handling a batch raised", self.topic)

    def _drop(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget the buffered records of these partitions (they come again, or go to
        another consumer)."""
        gone = {(tp.topic, tp.partition) for tp in partitions}
        kept = [r for r in self._buffer if (r.topic, r.partition) not in gone]
        self._buffer.clear()
        self._buffer.extend(kept)
        if not self._buffer:
            self._ready.clear()
        self._readable.set()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: TopicConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        owner = self._owner
        owner.joined = False
        owner._drop(revoked)
        if owner._drain is not None:
            await owner._drain()
        if owner._on_revoked is not None:
            await owner._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        owner = self._owner
        if owner._on_assigned is not None:
            await owner._on_assigned(set(assigned))
        owner.joined = True
