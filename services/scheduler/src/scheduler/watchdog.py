"""The watchdog: every non-final execution accounted for (docs/architecture.md, *The
watchdog*).

It runs in the scheduler replica that owns partition 0 of the timers topic (the timers'
lease: one replica at a time) and never writes an execution: what it finds is recorded in
`watchdog_findings`, counted, and sent to the executor as ExecutionRepairRequested on the
commands topic (keyed by execution id), which the executor applies like any other command,
only while the execution is still at the version the finding saw.

A scan reads only what came due: the executor stores each non-final execution's slot (the
``bucket_seconds``-long slot of its last write, with its status) and a waiting one's deadline
slot, so a scan asks for the slots that have passed the lease since the last scan, three
statuses and one deadline each, by equality. The first scan after the partition is assigned
(one lease later, so the timers consumer has caught up with requests first) reads every
execution in a non-final status instead, once. A resend is checked again a lease later: an
execution still at that version never applied it, and is failed saying so."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts import Envelope, topics
from contracts.watchdog import WATCHED, watch_key
from servicekit.publisher import Publish

from scheduler import telemetry
from scheduler.domain.watchdog import (
    Finding,
    GroupState,
    assess,
    deadline_timer_id,
    due_slot,
    stalled,
    unapplied,
)

Document = dict[str, Any]
Clock = Callable[[], datetime]
SOURCE = "/connectflo/scheduler/watchdog"
WATCHDOG_PARTITION = 0  # of the timers topic: its owner scans
MAX_SLOTS_READ = 240  # a longer gap (downtime) is read by status instead
MAX_RECHECKS = 10_000
TIMERS_BY_ID = 50  # more waiting executions to check: their partitions' pending timers at once
log = logging.getLogger(__name__)


class WatchdogStore(Protocol):
    async def watched(self, key: str) -> list[Document]: ...
    async def deadline_in(self, slot: int) -> list[Document]: ...
    async def with_status(self, status: str) -> list[Document]: ...
    async def execution(self, execution_id: str) -> Document | None: ...
    async def timer_pending(self, timer_id: str) -> bool: ...
    async def pending_timer_ids(self, partition: int) -> set[str]: ...
    async def record(self, finding: Document) -> bool: ...


class GroupReader(Protocol):
    async def states(self) -> list[GroupState]: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class Watchdog:
    def __init__(
        self,
        store: WatchdogStore,
        publish: Publish,
        owned: Callable[[], frozenset[int]],
        *,
        lease_seconds: float,
        interval_seconds: float,
        bucket_seconds: int,
        groups: GroupReader | None = None,
        group_check_seconds: float = 60.0,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._publish = publish
        self._owned = owned
        self._lease = timedelta(seconds=lease_seconds)
        self._interval = interval_seconds
        self._bucket = bucket_seconds
        self._groups = groups
        self._group_every = timedelta(seconds=group_check_seconds)
        self._clock = clock
        self._scan_from: datetime | None = None  # owned since, plus a lease
        self._read_to: int | None = None  # the last slot read
        self._rechecks: dict[str, Finding] = {}  # resends to check again a lease later
        self._next_group_check = clock()
        self._stalled: set[str] = set()

    async def scan(self) -> list[Finding]:
        """One pass; the findings acted on (none while another replica owns the lease)."""
        now = self._clock()
        if WATCHDOG_PARTITION not in self._owned():
            self._scan_from, self._read_to = None, None
            self._rechecks.clear()
            return []
        if self._scan_from is None:
            self._scan_from = now + self._lease
        if now < self._scan_from:
            return []
        with telemetry.WATCHDOG_SCAN_SECONDS.time():
            due = list((await self._due(now)).values())
            pending = await self._pending_timers(due)
            findings = [
                finding for doc in due if (finding := self._assess(doc, now, pending)) is not None
            ]
            findings += await self._unapplied(now)
            for finding in findings:
                await self._act(finding)
        telemetry.WATCHDOG_STUCK.set(len(findings))
        return findings

    async def check_groups(self) -> list[GroupState]:
        """Consumer groups with lag and no members (reported: the watchdog cannot start
        consumers); at most every ``group_check_seconds``."""
        now = self._clock()
        if self._groups is None or now < self._next_group_check:
            return []
        if WATCHDOG_PARTITION not in self._owned():
            return []
        self._next_group_check = now + self._group_every
        found = stalled(await self._groups.states())
        telemetry.WATCHDOG_STALLED_GROUPS.set(len(found))
        for group in found:
            if group.group not in self._stalled:
                telemetry.WATCHDOG_FINDINGS.labels("group_stalled", "reported").inc()
                log.warning(
                    "consumer group %s has %d records waiting and no members",
                    group.group,
                    group.lag,
                )
        self._stalled = {g.group for g in found}
        return found

    async def run(self) -> None:
        """Scan every ``interval_seconds`` until cancelled."""
        while True:
            try:
                await self.scan()
                await self.check_groups()
            except Exception:
                log.exception("watchdog scan failed; scanning again in %ss", self._interval)
            await asyncio.sleep(self._interval)

    async def _due(self, now: datetime) -> dict[str, Document]:
        """The executions whose slot passed the lease since the last scan (or, first, every
        one in a non-final status)."""
        due = due_slot(now, self._lease, self._bucket)
        found: dict[str, Document] = {}
        if self._read_to is None or due - self._read_to > MAX_SLOTS_READ:
            for status in WATCHED:
                found |= {d["_id"]: d for d in await self._store.with_status(status)}
        else:
            for slot in range(self._read_to + 1, due + 1):
                for status in WATCHED:
                    found |= {
                        d["_id"]: d for d in await self._store.watched(watch_key(status, slot))
                    }
                found |= {d["_id"]: d for d in await self._store.deadline_in(slot)}
        self._read_to = due
        return found

    async def _pending_timers(self, due: list[Document]) -> dict[str, bool]:
        """Whether each waiting execution's deadline timer is pending: read by ``_id``, all
        at once, or for many (the first scan) every partition's pending timers instead."""
        wanted = [t for d in due if d.get("status") == "waiting" and (t := deadline_timer_id(d))]
        if len(wanted) <= TIMERS_BY_ID:
            found = await asyncio.gather(*(self._store.timer_pending(t) for t in wanted))
            return dict(zip(wanted, found, strict=True))
        partitions = range(topics.partitions_of(topics.TIMER_REQUESTS))
        ids = await asyncio.gather(*(self._store.pending_timer_ids(p) for p in partitions))
        pending = set().union(*ids)
        return {t: t in pending for t in wanted}

    def _assess(self, doc: Document, now: datetime, pending: dict[str, bool]) -> Finding | None:
        timer_id = deadline_timer_id(doc) if doc.get("status") == "waiting" else None
        known = pending.get(timer_id) if timer_id is not None else None
        return assess(doc, now=now, lease=self._lease, deadline_timer_pending=known)

    async def _unapplied(self, now: datetime) -> list[Finding]:
        later = [f for f in self._rechecks.values() if f.found_at + 2 * self._lease <= now]
        found = []
        for previous in later:
            del self._rechecks[previous.execution_id]
            doc = await self._store.execution(previous.execution_id)
            finding = unapplied(previous, doc, now)
            if finding is not None:
                found.append(finding)
        return found

    async def _act(self, finding: Finding) -> None:
        """Recorded, then sent (a crash between sends it again on the next scan: the command
        id is the same, the executor applies it once), then counted."""
        recorded = await self._store.record(finding.document())
        command = finding.command()
        out = Envelope.wrap(command, source=SOURCE, tenant_id=finding.tenant_id)
        key = finding.execution_id.encode()
        await self._publish(out.body(), topics.EXECUTION_COMMANDS, key, out.headers())
        if finding.action == "resend":
            if len(self._rechecks) >= MAX_RECHECKS:
                self._rechecks.pop(next(iter(self._rechecks)))
            self._rechecks[finding.execution_id] = finding
        else:
            self._rechecks.pop(finding.execution_id, None)
        if recorded:
            telemetry.WATCHDOG_FINDINGS.labels(finding.kind, finding.action).inc()
            log.warning(
                "watchdog: execution %s %s (%s): %s",
                finding.execution_id,
                finding.kind,
                finding.action,
                finding.reason,
            )
