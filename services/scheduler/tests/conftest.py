"""An in-memory timers store with the repository's semantics, and timer messages to feed it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from contracts import Envelope
from contracts.events import EffectSettled, TimerCancelRequested, TimerRequested
from scheduler.domain.timers import (
    CancelOutcome,
    TimerStatus,
    bucket_of,
    cancelled_fields,
    fired_fields,
)


class MemoryTimers:
    """TimerRepository in one dict, queried as the repository queries MongoDB: by ``_id``, by
    {partition, status} once per partition assigned (``scans``), by {partition, bucket, status}
    for a bucket (``reads``, ``docs_read``). A timer without a ``bucket`` (stored by an earlier
    version) is found by the partition's scan only, which gives it its bucket."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.scans: list[int] = []  # the partitions read whole, in order
        self.reads: list[tuple[int, int]] = []  # (partition, bucket) of every bucket read
        self.docs_read = 0
        self.marked: list[int] = []  # the size of every page marked fired

    async def add(self, doc: dict[str, Any]) -> bool:
        if doc["_id"] in self.docs:
            return False
        self.docs[doc["_id"]] = dict(doc)
        return True

    async def cancel(
        self, timer_id: str, tombstone: dict[str, Any], now: datetime
    ) -> tuple[CancelOutcome, dict[str, Any] | None]:
        doc = self.docs.get(timer_id)
        if doc is None:
            self.docs[timer_id] = dict(tombstone)
            return CancelOutcome.TOMBSTONE, None
        if doc["status"] == TimerStatus.PENDING:
            self.docs[timer_id] = {**doc, **cancelled_fields(now)}
            return CancelOutcome.CANCELLED, dict(doc)
        if doc["status"] == TimerStatus.FIRED:
            return CancelOutcome.TOO_LATE, None
        return CancelOutcome.REPEATED, None

    async def pending_buckets(self, partition: int) -> dict[int, datetime]:
        self.scans.append(partition)
        earliest: dict[int, datetime] = {}
        for doc in self.docs.values():
            if doc["partition"] == partition and doc["status"] == TimerStatus.PENDING:
                doc["bucket"] = bucket = bucket_of(doc["fire_at"])
                earliest[bucket] = min(doc["fire_at"], earliest.get(bucket, doc["fire_at"]))
        return earliest

    async def pending(self, partition: int, bucket: int) -> list[dict[str, Any]]:
        self.reads.append((partition, bucket))
        found = [
            dict(d)
            for d in self.docs.values()
            if (d["partition"], d.get("bucket"), d["status"])
            == (partition, bucket, TimerStatus.PENDING)
        ]
        self.docs_read += len(found)
        return found

    async def mark_fired(
        self, timers: list[dict[str, Any]], fired_at: datetime, owner: str
    ) -> None:
        self.marked.append(len(timers))
        for timer in timers:
            self.docs[timer["_id"]].update(fired_fields(fired_at, owner))

    async def purge_settled(self, before: datetime) -> int:
        old = [k for k, d in self.docs.items() if d.get("settled_at", before) < before]
        for key in old:
            del self.docs[key]
        return len(old)

    def status(self, timer_id: str) -> str:
        return str(self.docs[timer_id]["status"])


class Published:
    """A publish callable that keeps the EffectSettled commands it was given."""

    def __init__(self) -> None:
        self.settled: list[EffectSettled] = []
        self.keys: list[bytes | None] = []
        self.headers: list[dict[str, str]] = []
        self.fail_for: set[str] = set()

    async def __call__(
        self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        event = Envelope.parse(headers, value).data
        assert isinstance(event, EffectSettled)
        if event.idempotency_key in self.fail_for:
            raise ConnectionError("broker unavailable")
        self.settled.append(event)
        self.keys.append(key)
        self.headers.append(headers)

    def fired(self) -> list[str]:
        return [s.idempotency_key for s in self.settled]


def _timer_request(
    key: str, fire_at: datetime, execution_id: str = "exe_1"
) -> Envelope[TimerRequested]:
    event = TimerRequested(
        idempotency_key=key,
        execution_id=execution_id,
        tenant_id="ten_1",
        effect_id=key.split(":", 1)[1],
        node_id="wait",
        fire_at=fire_at,
    )
    return Envelope.wrap(event, source="/test", tenant_id="ten_1", traceparent=None)


def _timer_cancel(key: str, execution_id: str = "exe_1") -> Envelope[TimerCancelRequested]:
    event = TimerCancelRequested(idempotency_key=key, execution_id=execution_id, tenant_id="ten_1")
    return Envelope.wrap(event, source="/test", tenant_id="ten_1")


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def timers() -> MemoryTimers:
    return MemoryTimers()


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def clock() -> Clock:
    return Clock()


TimerRequestFactory = Callable[..., Envelope[TimerRequested]]
TimerCancelFactory = Callable[..., Envelope[TimerCancelRequested]]


@pytest.fixture
def timer_request() -> TimerRequestFactory:
    """timer_request(key, fire_at, execution_id="exe_1"): a TimerRequested envelope."""
    return _timer_request


@pytest.fixture
def timer_cancel() -> TimerCancelFactory:
    """timer_cancel(key, execution_id="exe_1"): a TimerCancelRequested envelope."""
    return _timer_cancel
