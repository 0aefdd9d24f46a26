"""Durable timers: stored when requested, fired when due as an EffectSettled command to the
waiting execution, cancellable, late (never lost) after a crash, safe with several replicas.

Ownership follows Kafka: a timer belongs to the partition of the timers topic its request came
from (requests are keyed by execution id), and a replica fires only the timers of the
partitions the consumer group has assigned to it. The assignment is the lease: when a partition
moves, the old owner stops firing it (the revocation waits for a page in flight) before the new
owner is given it, so two replicas never fire the same timer, and the newcomer fires whatever
came due meanwhile. A timer is marked fired after its command is published: a crash in between
fires it again, with the same command id, which the executor applies once.

The loop reads only what is due: each timer is stored with its bucket (the minute it is due
in), the replica's agenda (domain.agenda) knows which buckets of its partitions hold pending
timers and when their first is due, and a bucket that comes due is read once and fired from
memory. Cancels pass through the same replica, so the copy it keeps never fires a cancelled
timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeGuard, TypeVar

from contracts import Envelope, topics
from contracts.events import Event, TimerCancelRequested, TimerRequested
from opentelemetry.trace import SpanKind
from servicekit.delivery import Permanent
from servicekit.publisher import Publish

from scheduler import telemetry
from scheduler.domain.agenda import Agenda
from scheduler.domain.timers import (
    CancelOutcome,
    Document,
    is_earlier,
    lateness_seconds,
    settlement,
    sleep_seconds,
    timer_document,
    tombstone_document,
)

SOURCE = "/connectflo/scheduler"
GROUP = "scheduler"
Clock = Callable[[], datetime]
PURGE_EVERY = timedelta(hours=1)
E = TypeVar("E", bound=Event)


def _carries(envelope: Envelope[Event], kind: type[E]) -> TypeGuard[Envelope[E]]:
    """Whether the envelope holds a `kind` event (an envelope's type follows its data's)."""
    return isinstance(envelope.data, kind)


log = logging.getLogger(__name__)


class TimerStore(Protocol):
    async def add(self, doc: Document) -> bool: ...
    async def cancel(
        self, timer_id: str, tombstone: Document, now: datetime
    ) -> tuple[CancelOutcome, Document | None]: ...
    async def pending_buckets(self, partition: int) -> dict[int, datetime]: ...
    async def pending(self, partition: int, bucket: int) -> list[Document]: ...
    async def mark_fired(self, timers: list[Document], fired_at: datetime, owner: str) -> None: ...
    async def purge_settled(self, before: datetime) -> int: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class TimerService:
    def __init__(
        self,
        timers: TimerStore,
        publish: Publish,
        *,
        owner: str,
        page_size: int = 200,
        longest_sleep: float = 30.0,
        retry_seconds: float = 1.0,
        retention: timedelta = timedelta(days=7),
        clock: Clock = utc_now,
    ) -> None:
        self._timers = timers
        self._publish = publish
        self._owner = owner
        self._page_size = page_size
        self._longest_sleep = longest_sleep
        self._retry_seconds = retry_seconds
        self._retention = retention
        self._clock = clock
        self._next_purge = clock()
        self._agenda = Agenda()
        # Reading a bucket and firing a page of it, reading a partition just assigned,
        # cancelling, and taking or giving up partitions take turns within this replica.
        self._turn = asyncio.Lock()
        self._wake = asyncio.Event()
        self._planned_wake: datetime | None = None
        self.on_assigned: list[Callable[[], None]] = []  # told after each new assignment

    @property
    def owned_partitions(self) -> frozenset[int]:
        return self._agenda.partitions

    @property
    def turn(self) -> asyncio.Lock:
        """Held by whatever fires for a partition; a revocation waits for it (schedules.py
        fires under it too)."""
        return self._turn

    # -- requests (the consumer) ------------------------------------------------------------

    async def on_timer_message(self, envelope: Envelope[Event], partition: int) -> None:
        """Everything on the timers topic: a timer request or the cancel of one."""
        with telemetry.consuming(telemetry.tracer, topics.TIMER_REQUESTS, envelope, group=GROUP):
            if _carries(envelope, TimerRequested):
                await self.on_timer_requested(envelope, partition)
            elif _carries(envelope, TimerCancelRequested):
                await self.on_timer_cancel_requested(envelope, partition)
            else:
                raise Permanent(f"{envelope.type} does not belong on {topics.TIMER_REQUESTS}")

    async def on_timer_requested(self, envelope: Envelope[TimerRequested], partition: int) -> None:
        request = envelope.data
        doc = timer_document(
            request, partition=partition, trace=envelope.trace, stored_at=self._clock()
        )
        stored = False
        try:
            stored = await self._timers.add(doc)
        finally:  # also a duplicate, or a failure (the insert may have been applied)
            self._agenda.stored(doc, new=stored)
        if stored:
            telemetry.TIMERS_STORED.inc()
        # Also for a redelivery: the replica that stored it first may have lost the partition
        # before its loop looked.
        if is_earlier(doc["fire_at"], self._planned_wake):
            self._wake.set()

    async def on_timer_cancel_requested(
        self, envelope: Envelope[TimerCancelRequested], partition: int
    ) -> None:
        cancel = envelope.data
        now = self._clock()
        tombstone = tombstone_document(cancel, partition=partition, cancelled_at=now)
        async with self._turn:
            outcome, timer = await self._timers.cancel(cancel.idempotency_key, tombstone, now)
            if timer is not None:
                self._agenda.settled([timer])
        telemetry.TIMERS_CANCELLED.labels(outcome=outcome.value).inc()
        log.debug("timer %s: cancel: %s", cancel.idempotency_key, outcome.value)

    # -- ownership (the consumer group's rebalance listener) ---------------------------------

    async def partitions_assigned(self, partitions: Iterable[int]) -> None:
        """Own these partitions' timers (the whole assignment, as the group handed it out).
        The loop reads the pending timers of each new one first (not here: a failed read is
        the loop's to retry)."""
        async with self._turn:
            self._agenda.own(partitions)
        telemetry.OWNED_PARTITIONS.set(len(self.owned_partitions))
        log.info("firing timers of partitions %s", sorted(self.owned_partitions))
        self._wake.set()  # what came due while nobody owned them fires now
        for listener in self.on_assigned:
            listener()

    async def partitions_revoked(self, partitions: Iterable[int]) -> None:
        """Stop firing these partitions' timers; returns once no page of theirs is in flight,
        so that the next owner, which the group names only after this returns, is alone."""
        async with self._turn:
            self._agenda.give_up(partitions)
        telemetry.OWNED_PARTITIONS.set(len(self.owned_partitions))

    # -- firing ------------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Fire every timer of the owned partitions that is due now: the buckets that have one,
        the earliest first, each a page at a time (a partition just assigned is read first)."""
        await self._read_assigned()
        fired = 0
        for partition, bucket in self._agenda.due(self._clock()):
            fired += await self._fire_bucket(partition, bucket)
        return fired

    async def _read_assigned(self) -> None:
        """Learn the buckets of the partitions assigned since the last pass."""
        for partition in self._agenda.unread:
            async with self._turn:
                if partition in self._agenda.unread:
                    buckets = await self._timers.pending_buckets(partition)
                    self._agenda.learn(partition, buckets)

    async def _fire_bucket(self, partition: int, bucket: int) -> int:
        """Read the bucket unless its timers are in memory, then fire its due ones."""
        fired = 0
        while True:
            async with self._turn:
                while self._agenda.needs_read(partition, bucket):
                    self._agenda.reading(partition, bucket)
                    timers = await self._timers.pending(partition, bucket)
                    self._agenda.read(partition, bucket, timers)
                page = self._agenda.due_timers(partition, bucket, self._clock(), self._page_size)
                fired += await self._fire(page)
            if len(page) < self._page_size:
                return fired

    async def _fire(self, page: list[Document]) -> int:
        if not page:
            return 0
        fired_at = self._clock()
        outcomes = await asyncio.gather(
            *(self._publish_settlement(timer, fired_at) for timer in page),
            return_exceptions=True,
        )
        published = [t for t, o in zip(page, outcomes, strict=True) if o is None]
        if published:
            await self._timers.mark_fired(published, fired_at, self._owner)
            self._agenda.settled(published)
        for timer in published:
            telemetry.TIMERS_FIRED.inc()
            telemetry.TIMER_LATENESS.observe(lateness_seconds(timer, fired_at))
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:  # the unpublished stay pending and fire on the next round
            raise failures[0]
        return len(published)

    async def _publish_settlement(self, timer: Document, fired_at: datetime) -> None:
        """In the trace of the request that set the timer: the resume joins its execution's."""
        key = timer["execution_id"].encode()
        with telemetry.tracer.start_as_current_span(
            f"send {topics.EXECUTION_COMMANDS}",
            context=telemetry.context_from(timer.get("traceparent"), timer.get("tracestate")),
            kind=SpanKind.PRODUCER,
            attributes={
                **telemetry.producing_attributes(topics.EXECUTION_COMMANDS, key),
                **telemetry.attributes(execution_id=timer["execution_id"], timer_id=timer["_id"]),
            },
        ):
            out = Envelope.wrap(
                settlement(timer, fired_at),
                source=SOURCE,
                tenant_id=timer["tenant_id"],
                **telemetry.current_trace(),
            )
            await self._publish(out.body(), topics.EXECUTION_COMMANDS, key, out.headers())

    async def run(self) -> None:
        """Fire due timers until cancelled, sleeping until the next one is due (or a new
        request, or a new assignment, wakes the loop)."""
        while True:
            self._wake.clear()
            self._planned_wake = None
            try:
                await self.fire_due()
                await self.purge_settled()
                delay = sleep_seconds(self._agenda.next_due(), self._clock(), self._longest_sleep)
            except Exception:
                log.exception("firing timers failed; retrying in %ss", self._retry_seconds)
                delay = self._retry_seconds
            if delay > 0:
                self._planned_wake = self._clock() + timedelta(seconds=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)

    async def purge_settled(self) -> None:
        """Forget settled timers past their retention, at most every hour. A tombstone must
        outlive any late copy of its request; the retention (a week) is far longer than that."""
        now = self._clock()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY
        purged = await self._timers.purge_settled(now - self._retention)
        if purged:
            log.info("forgot %d timers settled before %s", purged, now - self._retention)
