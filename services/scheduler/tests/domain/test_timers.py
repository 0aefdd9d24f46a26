"""What firing a timer means, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from contracts.envelope import NO_TRACE, TraceContext
from contracts.events import TimerCancelRequested, TimerRequested
from scheduler.domain.timers import (
    bucket_of,
    cancelled_fields,
    fired_fields,
    is_earlier,
    lateness_seconds,
    settlement,
    sleep_seconds,
    timer_document,
    tombstone_document,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
REQUEST = TimerRequested(
    idempotency_key="exe_1:wait:0:1",
    execution_id="exe_1",
    tenant_id="ten_1",
    effect_id="wait:0:1",
    node_id="wait",
    fire_at=NOW,
)


def test_a_timer_remembers_the_partition_its_request_came_from() -> None:
    doc = timer_document(
        REQUEST,
        partition=5,
        trace=TraceContext(traceparent="00-ab-cd-01", tracestate="v=1"),
        stored_at=NOW,
    )
    assert doc["_id"] == "exe_1:wait:0:1"
    assert (doc["partition"], doc["status"], doc["fire_at"]) == (5, "pending", NOW)
    assert (doc["traceparent"], doc["tracestate"]) == ("00-ab-cd-01", "v=1")


def test_a_timer_is_in_the_bucket_of_the_minute_it_is_due_in() -> None:
    minute = bucket_of(NOW)
    assert minute == int(NOW.timestamp()) // 60
    assert bucket_of(NOW + timedelta(seconds=59, microseconds=999_999)) == minute
    assert bucket_of(NOW + timedelta(seconds=60)) == minute + 1
    assert bucket_of(NOW - timedelta(microseconds=1)) == minute - 1
    berlin = timezone(timedelta(hours=1))
    assert bucket_of(NOW.astimezone(berlin)) == minute
    doc = timer_document(REQUEST, partition=0, trace=NO_TRACE, stored_at=NOW)
    assert doc["bucket"] == minute


def test_a_timer_is_due_when_mongodb_would_say_it_is() -> None:
    """Stored with milliseconds in UTC, so the copy the loop keeps fires like the stored one."""
    fire_at = (NOW + timedelta(microseconds=1_999)).astimezone(timezone(timedelta(hours=-5)))
    request = REQUEST.model_copy(update={"fire_at": fire_at})
    doc = timer_document(request, partition=0, trace=NO_TRACE, stored_at=NOW)
    assert doc["fire_at"] == NOW + timedelta(milliseconds=1)
    assert doc["fire_at"].tzinfo is UTC


def test_a_tombstone_is_a_cancelled_timer_that_never_fires() -> None:
    cancel = TimerCancelRequested(
        idempotency_key="exe_1:wait:0:1", execution_id="exe_1", tenant_id="ten_1"
    )
    doc = tombstone_document(cancel, partition=2, cancelled_at=NOW)
    assert (doc["_id"], doc["status"], doc["tombstone"]) == ("exe_1:wait:0:1", "cancelled", True)
    assert doc["settled_at"] == NOW
    assert "fire_at" not in doc


def test_every_firing_of_a_timer_carries_the_same_command_id() -> None:
    doc = timer_document(REQUEST, partition=0, trace=NO_TRACE, stored_at=NOW)
    first, again = settlement(doc, NOW), settlement(doc, NOW + timedelta(seconds=40))
    assert first.command_id == again.command_id == "settle:exe_1:wait:0:1"
    assert (first.effect_id, first.idempotency_key) == ("wait:0:1", "exe_1:wait:0:1")
    assert again.result == {
        "fired_at": (NOW + timedelta(seconds=40)).isoformat(),
        "due_at": NOW.isoformat(),
    }
    assert first.error is None


def test_lateness_is_time_past_due_and_never_negative() -> None:
    doc = {"fire_at": NOW}
    assert lateness_seconds(doc, NOW + timedelta(seconds=2.5)) == 2.5
    assert lateness_seconds(doc, NOW - timedelta(seconds=1)) == 0.0


def test_the_loop_sleeps_until_the_next_due_time_but_not_too_long() -> None:
    assert sleep_seconds(NOW + timedelta(seconds=3), NOW, 30) == 3
    assert sleep_seconds(NOW + timedelta(hours=1), NOW, 30) == 30
    assert sleep_seconds(NOW - timedelta(seconds=3), NOW, 30) == 0
    assert sleep_seconds(None, NOW, 30) == 30


def test_only_an_earlier_timer_wakes_a_sleeping_loop() -> None:
    assert is_earlier(NOW, NOW + timedelta(seconds=1))
    assert not is_earlier(NOW + timedelta(seconds=2), NOW + timedelta(seconds=1))
    assert is_earlier(NOW + timedelta(days=9), None)  # the loop is busy: always tell it


def test_a_settled_timer_says_how_and_when_it_ended() -> None:
    later = NOW + timedelta(seconds=1)
    fired = fired_fields(later, "host:42")
    assert (fired["status"], fired["fired_at"], fired["fired_by"]) == ("fired", later, "host:42")
    assert fired["settled_at"] == later
    cancelled = cancelled_fields(later)
    assert (cancelled["status"], cancelled["cancelled_at"]) == ("cancelled", later)
    assert cancelled["settled_at"] == later
    assert "fired_at" not in cancelled
