"""What a timer is and what firing it means: pure functions, no I/O and no clock.

A timer document is kept under the request's idempotency key, pending until it fires or is
cancelled. It records the Kafka partition its request came from: the replica that owns that
partition of the timers topic (in the consumer group) is the only one that fires it. It also
records its bucket, the minute it is due in, so that the pending timers due soon are found by
equality: {partition, bucket, status}.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from contracts.envelope import TraceContext
from contracts.events import EffectSettled, TimerCancelRequested, TimerRequested

Document = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BUCKET = timedelta(minutes=1)


class TimerStatus(StrEnum):
    PENDING = "pending"
    """Stored, not yet due or not yet fired."""
    FIRED = "fired"
    """Its EffectSettled was published (maybe more than once after a crash, never lost)."""
    CANCELLED = "cancelled"
    """Will never fire; a cancel that came before its request is a tombstone in this state."""


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"
    """A pending timer was cancelled."""
    TOMBSTONE = "tombstone"
    """The cancel came before the request: the request, when it comes, is ignored."""
    TOO_LATE = "too_late"
    """The timer had fired already."""
    REPEATED = "repeated"
    """The timer was cancelled before (a redelivered cancel)."""


def bucket_of(fire_at: datetime) -> int:
    """The bucket of a timer due at ``fire_at``: whole minutes since the epoch."""
    return (fire_at - EPOCH) // BUCKET


def as_stored(at: datetime) -> datetime:
    """``at`` as MongoDB gives it back (UTC, milliseconds): a timer fires alike from the copy
    the firing loop keeps and from the stored one."""
    at = at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def timer_document(
    request: TimerRequested, *, partition: int, trace: TraceContext, stored_at: datetime
) -> Document:
    """The pending timer for ``request``, owned by whoever owns ``partition``."""
    fire_at = as_stored(request.fire_at)
    return {
        "_id": request.idempotency_key,
        "tenant_id": request.tenant_id,
        "execution_id": request.execution_id,
        "effect_id": request.effect_id,
        "node_id": request.node_id,
        "fire_at": fire_at,
        "partition": partition,
        "bucket": bucket_of(fire_at),
        "status": TimerStatus.PENDING.value,
        "traceparent": trace["traceparent"],  # the request's: the fire continues its trace
        "tracestate": trace["tracestate"],
        "stored_at": stored_at,
    }


def tombstone_document(
    cancel: TimerCancelRequested, *, partition: int, cancelled_at: datetime
) -> Document:
    """A cancelled timer standing in for a request not seen yet, so that it never fires."""
    return {
        "_id": cancel.idempotency_key,
        "tenant_id": cancel.tenant_id,
        "execution_id": cancel.execution_id,
        "partition": partition,
        "status": TimerStatus.CANCELLED.value,
        "tombstone": True,
        "cancelled_at": cancelled_at,
        "settled_at": cancelled_at,
    }


def fired_fields(at: datetime, fired_by: str) -> Document:
    """What a pending timer's document gets once its settlement was published."""
    return {
        "status": TimerStatus.FIRED.value,
        "fired_at": at,
        "fired_by": fired_by,
        "settled_at": at,
    }


def cancelled_fields(at: datetime) -> Document:
    """What a pending timer's document gets when it is cancelled."""
    return {"status": TimerStatus.CANCELLED.value, "cancelled_at": at, "settled_at": at}


def settlement(timer: Document, fired_at: datetime) -> EffectSettled:
    """The command that resumes the waiting execution. Its command id is the same every time the
    timer fires, so the executor applies it once however often it is published."""
    return EffectSettled(
        command_id="settle:" + timer["_id"],
        execution_id=timer["execution_id"],
        tenant_id=timer["tenant_id"],
        effect_id=timer["effect_id"],
        idempotency_key=timer["_id"],
        result={"fired_at": fired_at.isoformat(), "due_at": timer["fire_at"].isoformat()},
    )


def lateness_seconds(timer: Document, fired_at: datetime) -> float:
    """How long after its due time a timer fired (0 when on time)."""
    fire_at: datetime = timer["fire_at"]
    return max(0.0, (fired_at - fire_at).total_seconds())


def sleep_seconds(next_due: datetime | None, now: datetime, longest: float) -> float:
    """How long the firing loop may sleep: until the next due time, at most ``longest``."""
    if next_due is None:
        return longest
    return min(longest, max(0.0, (next_due - now).total_seconds()))


def is_earlier(fire_at: datetime, planned_wake: datetime | None) -> bool:
    """Whether a new timer due at ``fire_at`` must wake a loop that planned to wake at
    ``planned_wake`` (None: the loop is busy and may not have seen it)."""
    return planned_wake is None or fire_at < planned_wake
