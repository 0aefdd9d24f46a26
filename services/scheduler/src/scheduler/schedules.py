"""Workflow schedules fired on time, once (docs/architecture.md, *Schedules*).

A schedule belongs to a partition of the timers topic (contracts.schedules.schedule_partition)
and the replica that owns that partition fires it: the timers' lease, with the same turn, so a
revocation waits for a fire in flight and the next owner is alone. The owner reads its
partitions' active schedules (again every ``refresh`` seconds: a new or changed schedule is
seen within that), keeps their next runs in memory and sleeps until the earliest.

A fire is a TriggerReceived of type Scheduled for the schedule's workflow alone, its trigger
id the schedule's and the planned time's (contracts.schedules.scheduled_trigger_id): the
executor creates one execution per (trigger, workflow), so a fire repeated after a crash
(published, not yet recorded) or by a replica that lost the partition meanwhile starts
nothing twice. After downtime the catch-up policy decides which missed fires to make
(clocks.schedules.Schedule.due); the overlap policy travels in the trigger and the executor
applies it (it knows whether the last run is still going)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from clocks.schedules import InvalidSchedule, Schedule
from contracts import Envelope, topics
from contracts.events import TriggerReceived
from contracts.schedules import SCHEDULED, scheduled_trigger_id
from servicekit.publisher import Publish

from scheduler import telemetry

Document = dict[str, Any]
Clock = Callable[[], datetime]
SOURCE = "/connectflo/scheduler"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fired:
    """What one pass did with a schedule: its next run, its last fire, fires and skips more."""

    schedule_id: str
    revision: int
    next_run_at: datetime
    last_run_at: datetime | None
    last_trigger_id: str | None
    fires: int
    skipped: int


class ScheduleStore(Protocol):
    async def active(self, partition: int) -> list[Document]: ...

    async def fired(self, passes: list[Fired], now: datetime) -> None: ...


@lru_cache(maxsize=4096)
def _parsed(expression: str, timezone: str) -> Schedule:
    return Schedule.parse(expression, timezone)


def scheduled_trigger(doc: Document, planned: datetime, now: datetime) -> TriggerReceived:
    """The trigger of one fire: what the workflow reads as `trigger.*`."""
    return TriggerReceived(
        trigger_id=scheduled_trigger_id(doc["_id"], int(planned.timestamp())),
        tenant_id=doc["tenant_id"],
        trigger_type=SCHEDULED,
        workflow_id=doc["workflow_id"],
        payload={
            "scheduleId": doc["_id"],
            "scheduledFor": planned.isoformat(),
            "firedAt": now.isoformat(),
            "lateSeconds": round(max(0.0, (now - planned).total_seconds()), 3),
            "cronExpression": doc["cron_expression"],
            "timezone": doc["timezone"],
            "overlap": doc.get("overlap", "skip"),
            "previousTriggerId": doc.get("last_trigger_id"),
        },
        received_at=now,
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


class ScheduleRunner:
    def __init__(
        self,
        store: ScheduleStore,
        publish: Publish,
        owned: Callable[[], frozenset[int]],
        turn: asyncio.Lock,
        *,
        refresh_seconds: float = 5.0,
        page_size: int = 200,
        retry_seconds: float = 1.0,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._publish = publish
        self._owned = owned
        self._turn = turn
        self._refresh = timedelta(seconds=refresh_seconds)
        self._page_size = page_size
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._schedules: dict[str, Document] = {}  # the owned partitions' active ones
        self._read: frozenset[int] = frozenset()
        self._next_refresh = clock()
        self.wake = asyncio.Event()  # a new assignment: read it now

    async def refresh(self) -> None:
        """Read the owned partitions' active schedules; a fire recorded here and not yet
        read back keeps its next run (the same revision), a changed spec takes the store's."""
        owned = self._owned()
        found: dict[str, Document] = {}
        for partition in sorted(owned):
            for doc in await self._store.active(partition):
                known = self._schedules.get(doc["_id"])
                if known is not None and known.get("revision") == doc.get("revision"):
                    doc = {**doc, "next_run_at": known["next_run_at"]}
                found[doc["_id"]] = doc
        self._schedules = found
        self._read = owned
        self._next_refresh = self._clock() + self._refresh
        telemetry.ACTIVE_SCHEDULES.set(len(found))

    async def fire_due(self) -> int:
        """Fire every owned schedule whose next run has come, a page at a time, then record
        their next runs; the number of fires. The records wait until every page is published
        (on FerretDB an update costs a few milliseconds: a thousand would hold the later fires
        seconds back); a record lost to a crash meanwhile makes the next owner fire that time
        again, under the same trigger id, which starts nothing twice."""
        now = self._clock()
        due = sorted(
            (d for d in self._schedules.values() if _utc(d["next_run_at"]) <= now),
            key=lambda d: _utc(d["next_run_at"]),
        )
        records: list[Fired] = []
        for start in range(0, len(due), self._page_size):
            async with self._turn:  # the lease: a revocation waits for this page
                owned = self._owned()
                page = [d for d in due[start : start + self._page_size] if d["partition"] in owned]
                if page:
                    records += await self._fire_page(page)
        for start in range(0, len(records), self._page_size):
            await self._store.fired(records[start : start + self._page_size], now)
        return sum(record.fires for record in records)

    async def _fire_page(self, docs: list[Document]) -> list[Fired]:
        """A page's fires published together (each schedule's in order); what to record."""
        now = self._clock()
        passes: list[tuple[Document, Fired, list[TriggerReceived]]] = []
        for doc in docs:
            try:
                schedule = _parsed(doc["cron_expression"], doc["timezone"])
            except InvalidSchedule as exc:  # the gateway validates: a hand-edited document
                log.error("schedule %s cannot fire: %s", doc["_id"], exc)
                self._schedules.pop(doc["_id"], None)
                continue
            planned = _utc(doc["next_run_at"])
            due = schedule.due(
                planned, now, doc.get("catch_up", "once"), int(doc.get("catch_up_limit") or 1)
            )
            triggers = []
            for at in due.fires:
                triggers.append(scheduled_trigger(doc, at, now))
                doc["last_trigger_id"] = triggers[-1].trigger_id
                telemetry.SCHEDULE_LATENESS.observe(max(0.0, (now - at).total_seconds()))
            if due.missed:
                telemetry.SCHEDULE_SKIPPED.inc(due.missed)
            last = due.fires[-1] if due.fires else None
            record = Fired(
                doc["_id"],
                int(doc.get("revision") or 0),
                next_run_at=due.next_run,
                last_run_at=last,
                last_trigger_id=doc.get("last_trigger_id") if last else None,
                fires=len(due.fires),
                skipped=due.missed,
            )
            passes.append((doc, record, triggers))
        await asyncio.gather(*(self._send(doc, triggers) for doc, _, triggers in passes))
        for doc, record, _ in passes:
            doc["next_run_at"] = record.next_run_at
        telemetry.SCHEDULE_FIRES.inc(sum(record.fires for _, record, _ in passes))
        return [record for _, record, _ in passes]

    async def _send(self, doc: Document, triggers: list[TriggerReceived]) -> None:
        for trigger in triggers:  # one schedule's fires in order (keyed alike: one partition)
            out = Envelope.wrap(
                trigger, source=SOURCE, tenant_id=trigger.tenant_id, **telemetry.current_trace()
            )
            await self._publish(out.body(), topics.TRIGGERS, doc["_id"].encode(), out.headers())

    def sleep_seconds(self, longest: float) -> float:
        now = self._clock()
        wake = self._next_refresh
        if self._schedules:
            wake = min(wake, min(_utc(d["next_run_at"]) for d in self._schedules.values()))
        return min(longest, max(0.0, (wake - now).total_seconds()))

    async def run(self) -> None:
        """Fire schedules until cancelled."""
        while True:
            self.wake.clear()
            try:
                if self._clock() >= self._next_refresh or self._owned() != self._read:
                    await self.refresh()
                await self.fire_due()
                delay = self.sleep_seconds(self._refresh.total_seconds())
            except Exception:
                log.exception("firing schedules failed; retrying in %ss", self._retry_seconds)
                delay = self._retry_seconds
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), delay)


def _utc(value: datetime) -> datetime:
    """MongoDB gives naive UTC datetimes back (pymongo without tz_aware)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
