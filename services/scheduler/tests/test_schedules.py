"""ScheduleRunner: the owned partitions' schedules fired when due, once per planned time,
their next run moved on, catch-up after downtime, a changed spec taken from the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Envelope, topics
from contracts.events import TriggerReceived
from contracts.schedules import schedule_partition
from scheduler.schedules import Fired, ScheduleRunner

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Store:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.writes: list[dict[str, Any]] = []
        self.pages: list[int] = []

    def add(self, schedule_id: str, cron: str, next_run_at: datetime, **more: Any) -> None:
        self.docs[schedule_id] = {
            "_id": schedule_id,
            "tenant_id": "ten_1",
            "workflow_id": "wf_1",
            "cron_expression": cron,
            "timezone": "UTC",
            "is_active": True,
            "catch_up": "once",
            "catch_up_limit": 10,
            "overlap": "skip",
            "partition": schedule_partition(schedule_id),
            "next_run_at": next_run_at.replace(tzinfo=None),  # as pymongo gives it back
            "last_trigger_id": None,
            "revision": 1,
            **more,
        }

    async def active(self, partition: int) -> list[dict[str, Any]]:
        return [
            dict(d) for d in self.docs.values() if d["partition"] == partition and d["is_active"]
        ]

    async def fired(self, passes: list[Fired], now: datetime) -> None:
        self.pages.append(len(passes))
        for done in passes:
            changes = {k: v for k, v in vars(done).items() if k not in ("schedule_id", "revision")}
            self.writes.append({"id": done.schedule_id, "revision": done.revision, **changes})
            doc = self.docs[done.schedule_id]
            if doc["revision"] == done.revision:
                doc["next_run_at"] = done.next_run_at
                if done.last_run_at is not None:
                    doc["last_trigger_id"] = done.last_trigger_id


class Triggers:
    def __init__(self) -> None:
        self.sent: list[TriggerReceived] = []
        self.keys: list[bytes | None] = []

    async def __call__(self, value: bytes, topic: str, key: bytes | None, headers: Any) -> None:
        assert topic == topics.TRIGGERS
        event = Envelope.parse(headers, value).data
        assert isinstance(event, TriggerReceived)
        self.sent.append(event)
        self.keys.append(key)


def runner(store: Store, sent: Triggers, clock: Clock, owned: set[int]) -> ScheduleRunner:
    return ScheduleRunner(
        store, sent, lambda: frozenset(owned), asyncio.Lock(), refresh_seconds=5, clock=clock
    )


async def test_a_due_schedule_fires_once_for_its_workflow_and_moves_on() -> None:
    store, sent, clock = Store(), Triggers(), Clock()
    store.add("sch_a", "*/10 * * * * *", NOW)
    run = runner(store, sent, clock, set(range(6)))
    await run.refresh()
    assert await run.fire_due() == 1
    assert await run.fire_due() == 0  # the same planned time does not fire twice
    (trigger,) = sent.sent
    assert trigger.trigger_type == "Scheduled" and trigger.workflow_id == "wf_1"
    assert trigger.trigger_id == f"sch_a:{int(NOW.timestamp())}"
    assert trigger.payload["scheduledFor"] == NOW.isoformat()
    assert trigger.payload["overlap"] == "skip" and trigger.payload["previousTriggerId"] is None
    assert sent.keys == [b"sch_a"]
    assert store.writes[-1]["next_run_at"] == NOW + timedelta(seconds=10)

    clock.now = NOW + timedelta(seconds=10, milliseconds=5)
    assert await run.fire_due() == 1
    assert sent.sent[1].payload["previousTriggerId"] == trigger.trigger_id
    assert sent.sent[1].payload["lateSeconds"] == 0.005


async def test_only_the_owned_partitions_schedules_fire() -> None:
    store, sent, clock = Store(), Triggers(), Clock()
    store.add("sch_a", "* * * * *", NOW)
    mine = schedule_partition("sch_a")
    others = runner(store, sent, clock, set(range(6)) - {mine})
    await others.refresh()
    assert await others.fire_due() == 0 and sent.sent == []

    owned = {mine}
    ours = runner(store, sent, clock, owned)
    await ours.refresh()
    owned.clear()  # revoked between the read and the fire: the lease says no
    assert await ours.fire_due() == 0 and sent.sent == []


async def test_after_downtime_the_catch_up_policy_decides() -> None:
    store, sent, clock = Store(), Triggers(), Clock()
    store.add("sch_once", "0 * * * *", NOW - timedelta(hours=5))
    store.add("sch_each", "0 * * * *", NOW - timedelta(hours=5), catch_up="each", catch_up_limit=2)
    store.add("sch_skip", "0 * * * *", NOW - timedelta(hours=5), catch_up="skip")
    clock.now = NOW + timedelta(minutes=20)
    run = runner(store, sent, clock, set(range(6)))
    await run.refresh()
    assert await run.fire_due() == 3
    by_schedule: dict[str, list[str]] = {}
    for t in sent.sent:
        by_schedule.setdefault(t.payload["scheduleId"], []).append(t.payload["scheduledFor"])
    assert by_schedule == {
        "sch_once": [NOW.isoformat()],
        "sch_each": [(NOW - timedelta(hours=1)).isoformat(), NOW.isoformat()],
    }
    skipped = {w["id"]: w["skipped"] for w in store.writes}
    assert skipped == {"sch_once": 5, "sch_each": 4, "sch_skip": 6}
    assert all(w["next_run_at"] == NOW + timedelta(hours=1) for w in store.writes)


async def test_a_changed_spec_is_taken_from_the_store_an_unchanged_one_keeps_its_run() -> None:
    store, sent, clock = Store(), Triggers(), Clock()
    store.add("sch_a", "0 * * * *", NOW)
    run = runner(store, sent, clock, set(range(6)))
    await run.refresh()
    await run.fire_due()
    store.docs["sch_a"]["next_run_at"] = NOW.replace(tzinfo=None)  # a stale read of the store
    await run.refresh()
    assert await run.fire_due() == 0  # the run it recorded holds: same revision

    store.add("sch_a", "30 12 * * *", NOW + timedelta(minutes=30), revision=2)
    await run.refresh()
    clock.now = NOW + timedelta(minutes=30)
    assert await run.fire_due() == 1
    assert sent.sent[-1].payload["cronExpression"] == "30 12 * * *"


async def test_a_daily_run_in_a_zone_that_changes_its_clocks_fires_once_each_night() -> None:
    """Berlin skips 02:00-03:00 on 2030-03-31 and repeats 02:00-03:00 on 2030-10-27: a 02:30
    run fires at 03:00 the first night and once at the first 02:30 the second (the clock is
    stepped minute by minute through both nights)."""
    for night, first_utc in (
        (datetime(2030, 3, 30, 22, 0, tzinfo=UTC), datetime(2030, 3, 31, 1, 0, tzinfo=UTC)),
        (datetime(2030, 10, 26, 22, 0, tzinfo=UTC), datetime(2030, 10, 27, 0, 30, tzinfo=UTC)),
    ):
        store, sent, clock = Store(), Triggers(), Clock()
        store.add("sch_dst", "30 2 * * *", first_utc, timezone="Europe/Berlin")
        clock.now = night
        run = runner(store, sent, clock, set(range(6)))
        await run.refresh()
        for _ in range(6 * 60):
            clock.now += timedelta(minutes=1)
            await run.fire_due()
        assert [t.payload["scheduledFor"] for t in sent.sent] == [first_utc.isoformat()]
        assert store.docs["sch_dst"]["next_run_at"] == first_utc.replace(
            hour=0 if first_utc.month == 3 else 1, minute=30
        ) + timedelta(days=1)


async def test_many_schedules_due_together_fire_in_pages_of_one_write_each() -> None:
    store, sent, clock = Store(), Triggers(), Clock()
    for n in range(450):
        store.add(f"sch_{n:03d}", "* * * * *", NOW)
    run = ScheduleRunner(
        store, sent, lambda: frozenset(range(6)), asyncio.Lock(), page_size=200, clock=clock
    )
    await run.refresh()
    assert await run.fire_due() == 450
    assert store.pages == [200, 200, 50]
    assert len({t.trigger_id for t in sent.sent}) == 450
    assert await run.fire_due() == 0
