"""Timers fire once when due, only on the replica that owns their partition, late (never lost)
after downtime, never after a cancel; the loop sleeps until the next one is due."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from contracts import Envelope
from contracts.events import ExecutionRequested, TimerRequested
from prometheus_client import REGISTRY
from scheduler.domain.timers import as_stored, bucket_of
from scheduler.service import TimerService
from servicekit.delivery import Permanent


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def replica(timers, published, clock, name="a", **options) -> TimerService:  # type: ignore[no-untyped-def]
    return TimerService(timers, published, owner=name, clock=clock, **options)


async def test_a_due_timer_fires_once_and_a_future_one_waits(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    stored = metric("connectflo_scheduler_timers_stored_total")
    await service.on_timer_requested(timer_request("exe_1:past:1", clock.now), 0)
    await service.on_timer_requested(timer_request("exe_1:past:1", clock.now), 0)  # redelivered
    await service.on_timer_requested(timer_request("exe_1:later:1", clock.now.replace(hour=13)), 0)
    assert metric("connectflo_scheduler_timers_stored_total") == stored + 2

    assert await service.fire_due() == 1
    assert await service.fire_due() == 0
    assert published.fired() == ["exe_1:past:1"]
    assert published.keys == [b"exe_1"]  # keyed by execution id, like every command
    settled = published.settled[0]
    assert settled.command_id == "settle:exe_1:past:1"
    assert settled.effect_id == "past:1"
    assert settled.result == {"fired_at": clock.now.isoformat(), "due_at": clock.now.isoformat()}
    assert timers.status("exe_1:past:1") == "fired"
    assert timers.docs["exe_1:past:1"]["fired_by"] == "a"
    assert timers.status("exe_1:later:1") == "pending"

    clock.advance(3600)
    assert await service.fire_due() == 1
    assert published.fired() == ["exe_1:past:1", "exe_1:later:1"]


async def test_a_timer_fires_in_the_trace_of_its_request(published, clock, timers) -> None:
    service = replica(timers, published, clock, "a")
    await service.partitions_assigned({0})
    request = TimerRequested(
        idempotency_key="exe_1:w:1",
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id="w:1",
        node_id="wait",
        fire_at=clock.now,
    )
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    envelope = Envelope.wrap(
        request, source="/test", tenant_id="ten_1", traceparent=traceparent, tracestate="v=1"
    )
    await service.on_timer_message(envelope, 0)
    assert await service.fire_due() == 1
    (headers,) = published.headers
    assert headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    assert headers["tracestate"] == "v=1"


async def test_replicas_fire_only_the_partitions_they_own(
    timers, published, clock, timer_request
) -> None:
    a, b = replica(timers, published, clock, "a"), replica(timers, published, clock, "b")
    await a.partitions_assigned({0, 1, 2})
    await b.partitions_assigned({3, 4, 5})
    for n in range(12):
        await a.on_timer_requested(timer_request(f"exe_{n}:w:1", clock.now, f"exe_{n}"), n % 6)

    assert await a.fire_due() + await b.fire_due() == 12
    assert sorted(published.fired()) == sorted(f"exe_{n}:w:1" for n in range(12))
    by = {d["partition"]: d["fired_by"] for d in timers.docs.values()}
    assert by == {0: "a", 1: "a", 2: "a", 3: "b", 4: "b", 5: "b"}


async def test_a_partition_moves_with_its_timers(timers, published, clock, timer_request) -> None:
    a, b = replica(timers, published, clock, "a"), replica(timers, published, clock, "b")
    await a.partitions_assigned(range(6))
    for n in range(6):
        fire_at = clock.now + timedelta(seconds=10)
        await a.on_timer_requested(timer_request(f"exe_{n}:w:1", fire_at, f"exe_{n}"), n)

    # A second replica joins: the group takes 3, 4, 5 from a and gives them to b.
    await a.partitions_revoked({0, 1, 2, 3, 4, 5})
    await a.partitions_assigned({0, 1, 2})
    await b.partitions_assigned({3, 4, 5})
    clock.advance(10)
    await asyncio.gather(a.fire_due(), b.fire_due(), a.fire_due(), b.fire_due())

    assert sorted(published.fired()) == [f"exe_{n}:w:1" for n in range(6)]
    assert {d["fired_by"] for d in timers.docs.values() if d["partition"] >= 3} == {"b"}


async def test_a_revocation_waits_for_the_page_in_flight(
    timers, published, clock, timer_request
) -> None:
    release = asyncio.Event()

    async def slow_publish(*args) -> None:  # type: ignore[no-untyped-def]
        await release.wait()
        await published(*args)

    a = TimerService(timers, slow_publish, owner="a", clock=clock)
    b = replica(timers, published, clock, "b")
    await a.partitions_assigned({2})
    await a.on_timer_requested(timer_request("exe_1:w:1", clock.now), 2)
    firing = asyncio.create_task(a.fire_due())
    await asyncio.sleep(0.01)
    revoking = asyncio.create_task(a.partitions_revoked({2}))
    await asyncio.sleep(0.01)
    assert not revoking.done(), "the next owner must not start while a page is in flight"

    release.set()
    await asyncio.gather(firing, revoking)
    await b.partitions_assigned({2})
    assert await b.fire_due() == 0
    assert published.fired() == ["exe_1:w:1"]


async def test_timers_due_while_the_scheduler_was_down_fire_late_on_restart(
    timers, published, clock, timer_request
) -> None:
    before = replica(timers, published, clock, "before-crash")
    await before.partitions_assigned({1})
    await before.on_timer_requested(timer_request("exe_1:w:1", clock.now + timedelta(seconds=5)), 1)
    late = metric("connectflo_scheduler_timer_lateness_seconds_sum")
    count = metric("connectflo_scheduler_timer_lateness_seconds_count")

    clock.advance(3600)  # down for an hour
    after = replica(timers, published, clock, "after-restart")
    await after.partitions_assigned({1})
    assert await after.fire_due() == 1

    assert published.fired() == ["exe_1:w:1"]
    assert metric("connectflo_scheduler_timer_lateness_seconds_count") == count + 1
    assert metric("connectflo_scheduler_timer_lateness_seconds_sum") - late == 3595


async def test_a_crash_between_publish_and_marking_fires_again_with_the_same_command_id(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    await service.on_timer_requested(timer_request("exe_1:w:1", clock.now), 0)
    mark_fired = timers.mark_fired

    async def crash(*args: object) -> None:
        raise ConnectionError("process died here")

    timers.mark_fired = crash
    with pytest.raises(ConnectionError):
        await service.fire_due()
    timers.mark_fired = mark_fired
    assert await service.fire_due() == 1

    assert [s.command_id for s in published.settled] == ["settle:exe_1:w:1"] * 2
    assert await service.fire_due() == 0


async def test_an_unpublished_timer_stays_pending_while_the_rest_of_its_page_fires(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    for n in range(3):
        await service.on_timer_requested(timer_request(f"exe_1:w{n}:1", clock.now), 0)
    published.fail_for = {"exe_1:w1:1"}

    with pytest.raises(ConnectionError):
        await service.fire_due()
    assert [timers.status(f"exe_1:w{n}:1") for n in range(3)] == ["fired", "pending", "fired"]

    published.fail_for = set()
    assert await service.fire_due() == 1
    assert sorted(published.fired()) == ["exe_1:w0:1", "exe_1:w1:1", "exe_1:w2:1"]


async def test_due_timers_are_read_once_and_fired_in_pages(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock, page_size=200)
    await service.partitions_assigned({0})
    for n in range(450):
        await service.on_timer_requested(timer_request(f"exe_1:w{n}:1", clock.now), 0)

    assert await service.fire_due() == 450
    assert timers.reads == [(0, bucket_of(clock.now))]
    assert timers.marked == [200, 200, 50]
    assert len(set(published.fired())) == 450


async def test_a_cancelled_timer_never_fires(
    timers, published, clock, timer_request, timer_cancel
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    cancelled = metric("connectflo_scheduler_timer_cancels_total", outcome="cancelled")
    await service.on_timer_requested(timer_request("exe_1:w:1", clock.now + timedelta(1)), 0)
    await service.on_timer_cancel_requested(timer_cancel("exe_1:w:1"), 0)

    clock.advance(86400 * 2)
    assert await service.fire_due() == 0
    assert published.fired() == []
    assert timers.status("exe_1:w:1") == "cancelled"
    assert metric("connectflo_scheduler_timer_cancels_total", outcome="cancelled") == cancelled + 1


async def test_a_cancel_before_its_request_leaves_a_tombstone(
    timers, published, clock, timer_request, timer_cancel
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    await service.on_timer_cancel_requested(timer_cancel("exe_1:w:1"), 0)
    await service.on_timer_requested(timer_request("exe_1:w:1", clock.now), 0)

    assert await service.fire_due() == 0
    assert published.fired() == []
    assert timers.docs["exe_1:w:1"]["tombstone"] is True


async def test_a_cancel_after_the_timer_fired_changes_nothing(
    timers, published, clock, timer_request, timer_cancel
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    await service.on_timer_requested(timer_request("exe_1:w:1", clock.now), 0)
    await service.fire_due()
    too_late = metric("connectflo_scheduler_timer_cancels_total", outcome="too_late")
    await service.on_timer_cancel_requested(timer_cancel("exe_1:w:1"), 0)

    assert timers.status("exe_1:w:1") == "fired"
    assert metric("connectflo_scheduler_timer_cancels_total", outcome="too_late") == too_late + 1


async def test_settled_timers_are_forgotten_after_their_retention(
    timers, published, clock, timer_request, timer_cancel
) -> None:
    service = replica(timers, published, clock, retention=timedelta(days=7))
    await service.partitions_assigned({0})
    await service.on_timer_requested(timer_request("exe_1:fired:1", clock.now), 0)
    await service.on_timer_requested(timer_request("exe_1:later:1", clock.now + timedelta(30)), 0)
    await service.on_timer_cancel_requested(timer_cancel("exe_1:tomb:1"), 0)
    await service.fire_due()

    clock.advance(86400 * 8)
    await service.purge_settled()
    assert set(timers.docs) == {"exe_1:later:1"}


async def test_something_else_on_the_timers_topic_is_permanent(timers, published, clock) -> None:
    service = replica(timers, published, clock)
    odd = ExecutionRequested(command_id="c", execution_id="exe_1", tenant_id="ten_1")
    with pytest.raises(Permanent, match="ExecutionRequested"):
        await service.on_timer_message(Envelope.wrap(odd, source="/t", tenant_id="ten_1"), 0)


# -- the loop, on the real clock ---------------------------------------------------------------


async def wait_until(condition, timeout: float = 5.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "timed out"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def test_the_loop_sleeps_until_the_next_timer_is_due(
    timers, published, timer_request
) -> None:
    service = TimerService(timers, published, owner="a", longest_sleep=30)
    loop = asyncio.create_task(service.run())
    try:
        await service.partitions_assigned({0})
        fire_at = as_stored(datetime.now(UTC) + timedelta(seconds=0.5))
        await service.on_timer_requested(timer_request("exe_1:w:1", fire_at), 0)
        await wait_until(lambda: published.fired() == ["exe_1:w:1"])
        fired_at = datetime.now(UTC)

        assert fire_at <= fired_at < fire_at + timedelta(seconds=0.2)
        # the partition read when assigned, the bucket when due: the loop did not poll
        assert (timers.scans, timers.reads) == ([0], [(0, bucket_of(fire_at))])
    finally:
        loop.cancel()


async def test_an_earlier_timer_wakes_the_sleeping_loop(timers, published, timer_request) -> None:
    service = TimerService(timers, published, owner="a", longest_sleep=30)
    loop = asyncio.create_task(service.run())
    try:
        await service.partitions_assigned({0})
        now = datetime.now(UTC)
        await service.on_timer_requested(timer_request("exe_1:late:1", now + timedelta(20)), 0)
        await asyncio.sleep(0.1)  # the loop now sleeps for 20 days (at most 30 s)
        await service.on_timer_requested(timer_request("exe_1:soon:1", now), 0)
        waited = await wait_until(lambda: published.fired() == ["exe_1:soon:1"])
        assert waited < 0.5
    finally:
        loop.cancel()


async def test_a_new_assignment_wakes_the_loop_for_what_came_due_meanwhile(
    timers, published, timer_request
) -> None:
    previous_owner = TimerService(timers, published, owner="gone")
    await previous_owner.on_timer_requested(timer_request("exe_1:w:1", datetime.now(UTC)), 4)
    service = TimerService(timers, published, owner="a", longest_sleep=30)
    loop = asyncio.create_task(service.run())
    try:
        await asyncio.sleep(0.05)
        assert published.fired() == []  # nobody owns partition 4 yet
        await service.partitions_assigned({4})
        assert await wait_until(lambda: published.fired() == ["exe_1:w:1"]) < 0.5
    finally:
        loop.cancel()
