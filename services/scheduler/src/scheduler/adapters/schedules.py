"""MongoDB: `workflow_schedules` (the gateway writes the spec, `/v1/schedules`; the scheduler
replica that owns a schedule's partition moves its next run on when it fires).

Reads are equalities only (FerretDB pushes no range or sort down): the active schedules of one
partition, by the index on {partition, is_active}. Writes go by `_id`; one replica owns a
partition, so no write relies on a condition being applied atomically."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.schedules import SCHEDULES
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from scheduler.adapters.store import _ensure_index
from scheduler.schedules import Fired

Document = dict[str, Any]


async def ensure_schedule_indexes(db: AsyncDatabase[Document]) -> None:
    await _ensure_index(db[SCHEDULES], [("partition", 1), ("is_active", 1)], "partition_is_active")


class ScheduleRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._schedules = db[SCHEDULES]

    async def active(self, partition: int) -> list[Document]:
        """The active schedules of a partition."""
        return [d async for d in self._schedules.find({"partition": partition, "is_active": True})]

    async def fired(self, passes: list[Fired], now: datetime) -> None:
        """What a page of fires did, in one write: each schedule's next run, last fire, fires
        and skips more; not over a newer revision of the spec (the gateway's change planned
        its own next run)."""
        ops = []
        for done in passes:
            changes: Document = {"next_run_at": done.next_run_at, "checked_at": now}
            if done.last_run_at is not None:
                changes |= {
                    "last_run_at": done.last_run_at,
                    "last_trigger_id": done.last_trigger_id,
                }
            ops.append(
                UpdateOne(
                    {"_id": done.schedule_id, "revision": done.revision},
                    {"$set": changes, "$inc": {"fires": done.fires, "skipped_fires": done.skipped}},
                )
            )
        if ops:
            await self._schedules.bulk_write(ops, ordered=False)
