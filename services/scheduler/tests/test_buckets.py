"""The firing loop reads only the buckets (minutes) that have a timer due, each once: a pass
costs what it fires, not what is pending; and what it keeps in memory never fires a timer the
database says is not pending."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scheduler.domain.timers import bucket_of
from scheduler.service import TimerService

from .test_timer_service import replica, wait_until


async def test_a_pass_reads_only_the_bucket_that_is_due(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0, 1})
    for n in range(2000):  # waiting on a reply: due over the next two hours
        fire_at = clock.now + timedelta(seconds=5 + n * 3.6)
        await service.on_timer_requested(timer_request(f"exe_{n}:w:1", fire_at, f"exe_{n}"), n % 2)
    await service.on_timer_requested(timer_request("exe_x:now:1", clock.now, "exe_x"), 1)

    assert await service.fire_due() == 1
    assert timers.reads == [(1, bucket_of(clock.now))]
    assert timers.docs_read == 1 + 8  # this minute's of partition 1, not the 2,001 pending
    assert await service.fire_due() == 0  # nothing due: nothing read
    clock.advance(4)
    assert await service.fire_due() == 0
    assert len(timers.reads) == 1

    clock.advance(3596)  # 13:00: the first hour's 60 minutes of each partition read once
    assert await service.fire_due() == 999
    assert len(timers.reads) == len(set(timers.reads)) == 2 * 60
    assert timers.docs_read == 1 + 999  # each timer once


async def test_timers_either_side_of_a_minute_fire_from_their_own_bucket(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    minute = bucket_of(clock.now)
    boundary = clock.now + timedelta(minutes=1)
    for key, fire_at in [
        ("exe_1:before:1", boundary - timedelta(milliseconds=1)),
        ("exe_1:on:1", boundary),
        ("exe_1:after:1", boundary + timedelta(milliseconds=1)),
    ]:
        await service.on_timer_requested(timer_request(key, fire_at), 0)

    clock.now = boundary - timedelta(milliseconds=1)
    assert await service.fire_due() == 1
    assert timers.reads == [(0, minute)]
    clock.now = boundary
    assert await service.fire_due() == 1
    assert timers.reads == [(0, minute), (0, minute + 1)]
    clock.advance(0.001)
    assert await service.fire_due() == 1
    assert timers.reads == [(0, minute), (0, minute + 1)]  # kept since its read
    assert published.fired() == ["exe_1:before:1", "exe_1:on:1", "exe_1:after:1"]


async def test_catching_up_after_a_day_down_reads_only_the_buckets_that_hold_timers(
    timers, published, clock, timer_request
) -> None:
    before = replica(timers, published, clock, "before-crash")
    await before.partitions_assigned({0})
    offsets = [timedelta(hours=20), timedelta(minutes=5), timedelta(hours=10), timedelta(hours=10)]
    for n, offset in enumerate(offsets):
        await before.on_timer_requested(timer_request(f"exe_1:w{n}:1", clock.now + offset), 0)

    clock.advance(86400)  # 1,440 minutes later, three of them with a timer
    after = replica(timers, published, clock, "after-restart")
    await after.partitions_assigned({0})
    assert await after.fire_due() == 4

    assert timers.scans == [0]
    assert len(timers.reads) == 3
    assert published.fired() == ["exe_1:w1:1", "exe_1:w2:1", "exe_1:w3:1", "exe_1:w0:1"]
    assert {timers.docs[f"exe_1:w{n}:1"]["fired_by"] for n in range(4)} == {"after-restart"}


async def test_a_timer_stored_for_an_earlier_bucket_fires_in_the_next_pass(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    await service.on_timer_requested(timer_request("exe_1:now:1", clock.now), 0)
    assert await service.fire_due() == 1
    overdue = clock.now - timedelta(minutes=10)  # a request that waited in Kafka
    await service.on_timer_requested(timer_request("exe_1:overdue:1", overdue), 0)

    assert await service.fire_due() == 1
    assert published.fired() == ["exe_1:now:1", "exe_1:overdue:1"]
    assert timers.reads[-1] == (0, bucket_of(overdue))


async def test_a_cancelled_timer_of_a_bucket_in_memory_never_fires(
    timers, published, clock, timer_request, timer_cancel
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    await service.on_timer_requested(timer_request("exe_1:now:1", clock.now), 0)
    later = clock.now + timedelta(seconds=30)
    await service.on_timer_requested(timer_request("exe_1:later:1", later), 0)
    assert await service.fire_due() == 1  # the bucket is in memory now

    await service.on_timer_cancel_requested(timer_cancel("exe_1:later:1"), 0)
    clock.advance(60)
    assert await service.fire_due() == 0
    assert published.fired() == ["exe_1:now:1"]
    assert len(timers.reads) == 1


async def test_a_cancel_between_two_pages_stops_its_timer(
    timers, published, clock, timer_request, timer_cancel
) -> None:
    release = asyncio.Event()

    async def slow_publish(*args) -> None:  # type: ignore[no-untyped-def]
        await release.wait()
        await published(*args)

    service = TimerService(timers, slow_publish, owner="a", clock=clock, page_size=2)
    await service.partitions_assigned({0})
    for n in range(4):
        await service.on_timer_requested(timer_request(f"exe_1:w{n}:1", clock.now), 0)
    firing = asyncio.create_task(service.fire_due())
    await asyncio.sleep(0.01)  # the first page is being published
    cancelling = asyncio.create_task(
        service.on_timer_cancel_requested(timer_cancel("exe_1:w3:1"), 0)
    )
    await asyncio.sleep(0.01)
    release.set()

    assert await firing == 3
    await cancelling
    assert sorted(published.fired()) == ["exe_1:w0:1", "exe_1:w1:1", "exe_1:w2:1"]
    assert timers.status("exe_1:w3:1") == "cancelled"


async def test_a_timer_stored_while_its_bucket_is_read_fires(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    await service.on_timer_requested(timer_request("exe_1:first:1", clock.now), 0)
    read, reading = timers.pending, asyncio.Event()
    release = asyncio.Event()

    async def slow_read(partition: int, bucket: int) -> list[dict[str, Any]]:
        found = await read(partition, bucket)
        reading.set()
        await release.wait()  # what is stored now, the read does not see
        return found

    timers.pending = slow_read
    firing = asyncio.create_task(service.fire_due())
    await reading.wait()
    await service.on_timer_requested(timer_request("exe_1:during:1", clock.now), 0)
    release.set()
    assert await firing == 2
    assert sorted(published.fired()) == ["exe_1:during:1", "exe_1:first:1"]


async def test_a_request_whose_insert_failed_after_storing_still_fires(
    timers, published, clock, timer_request
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    await service.on_timer_requested(timer_request("exe_1:first:1", clock.now), 0)
    await service.on_timer_requested(
        timer_request("exe_1:later:1", clock.now + timedelta(seconds=9)), 0
    )
    assert await service.fire_due() == 1  # its bucket is in memory
    add = timers.add

    async def reply_lost(doc: dict[str, Any]) -> bool:
        await add(doc)
        raise ConnectionError("connection reset after the insert")

    timers.add = reply_lost
    with pytest.raises(ConnectionError):
        await service.on_timer_requested(timer_request("exe_1:lost:1", clock.now), 0)
    timers.add = add
    assert await service.fire_due() == 1
    assert published.fired() == ["exe_1:first:1", "exe_1:lost:1"]


async def test_a_request_after_its_cancel_does_not_fire_from_memory(
    timers, published, clock, timer_request, timer_cancel
) -> None:
    service = replica(timers, published, clock)
    await service.partitions_assigned({0})
    await service.on_timer_requested(timer_request("exe_1:first:1", clock.now), 0)
    await service.on_timer_requested(
        timer_request("exe_1:later:1", clock.now + timedelta(seconds=9)), 0
    )
    assert await service.fire_due() == 1
    await service.on_timer_cancel_requested(timer_cancel("exe_1:early:1"), 0)
    await service.on_timer_requested(timer_request("exe_1:early:1", clock.now), 0)

    assert await service.fire_due() == 0
    assert published.fired() == ["exe_1:first:1"]
    assert timers.docs["exe_1:early:1"]["tombstone"] is True


async def test_a_partition_given_up_is_read_again_when_it_comes_back(
    timers, published, clock, timer_request, timer_cancel
) -> None:
    a, b = replica(timers, published, clock, "a"), replica(timers, published, clock, "b")
    await a.partitions_assigned({0})
    await a.on_timer_requested(timer_request("exe_1:now:1", clock.now), 0)
    await a.on_timer_requested(timer_request("exe_1:soon:1", clock.now + timedelta(seconds=20)), 0)
    assert await a.fire_due() == 1  # exe_1:soon:1 is in a's memory

    await a.partitions_revoked({0})
    await b.partitions_assigned({0})
    await b.on_timer_cancel_requested(timer_cancel("exe_1:soon:1"), 0)
    await b.on_timer_requested(timer_request("exe_2:w:1", clock.now + timedelta(seconds=40)), 0)
    await b.partitions_revoked({0})
    await a.partitions_assigned({0})
    clock.advance(60)

    assert await a.fire_due() == 1
    assert published.fired() == ["exe_1:now:1", "exe_2:w:1"]
    assert timers.scans == [0, 0]  # by a, when assigned and again when it came back
    assert timers.status("exe_1:soon:1") == "cancelled"


async def test_a_partition_is_read_once_when_assigned_and_retried_when_that_fails(
    timers, published, clock, timer_request
) -> None:
    await replica(timers, published, clock, "gone").on_timer_requested(
        timer_request("exe_1:w:1", clock.now), 3
    )
    service = replica(timers, published, clock)
    await service.partitions_assigned({3})
    scan = timers.pending_buckets

    async def unavailable(partition: int) -> dict[int, datetime]:
        raise ConnectionError("mongodb unavailable")

    timers.pending_buckets = unavailable
    with pytest.raises(ConnectionError):
        await service.fire_due()
    timers.pending_buckets = scan
    assert await service.fire_due() == 1
    assert await service.fire_due() == 0
    assert timers.scans == [3]


async def test_a_timer_stored_by_an_earlier_version_without_a_bucket_fires(
    timers, published, clock
) -> None:
    timers.docs["exe_1:old:1"] = {  # as the version with `timers` and `settled_timers` stored it
        "_id": "exe_1:old:1",
        "tenant_id": "ten_1",
        "execution_id": "exe_1",
        "effect_id": "old:1",
        "node_id": "wait",
        "fire_at": clock.now - timedelta(hours=2),
        "partition": 2,
        "status": "pending",
        "traceparent": None,
        "tracestate": None,
        "stored_at": clock.now - timedelta(hours=3),
    }
    service = replica(timers, published, clock)
    await service.partitions_assigned({2})

    assert await service.fire_due() == 1
    assert published.fired() == ["exe_1:old:1"]
    assert timers.docs["exe_1:old:1"]["bucket"] == bucket_of(clock.now - timedelta(hours=2))


async def test_a_timer_due_in_an_earlier_minute_wakes_the_sleeping_loop(
    timers, published, timer_request
) -> None:
    service = TimerService(timers, published, owner="a", longest_sleep=30)
    loop = asyncio.create_task(service.run())
    try:
        await service.partitions_assigned({0})
        now = datetime.now(UTC)
        await service.on_timer_requested(timer_request("exe_1:late:1", now + timedelta(20)), 0)
        await asyncio.sleep(0.1)  # the loop now sleeps for 20 days (at most 30 s)
        overdue = now - timedelta(minutes=5)
        await service.on_timer_requested(timer_request("exe_1:overdue:1", overdue), 0)
        waited = await wait_until(lambda: published.fired() == ["exe_1:overdue:1"])
        assert waited < 0.5
    finally:
        loop.cancel()
