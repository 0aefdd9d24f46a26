"""A tenant's workflow schedules (`workflow_schedules`, contracts.schedules).

A schedule: `_id` `sch_` + 24 hex, tenant_id, the fields of contracts.schedules.ScheduleSpec
as they are (workflow_id, cron_expression, timezone, is_active, catch_up, catch_up_limit,
overlap), partition (contracts.schedules.schedule_partition: the scheduler replica owning that
partition fires it), next_run_at (UTC, computed from now on every save), last_run_at,
last_trigger_id and fires (what the scheduler fired last and how often: null, null and 0
until it does), revision (1, then one more per replace), created_at, updated_at.

After the insert the gateway writes only the spec, next_run_at, revision and updated_at, and
the scheduler only the run fields and next_run_at, so neither overwrites what the other
keeps. A replace holds the schedule's lock (adapters/locks.py): FerretDB's updates are no
compare-and-set, and two replaces at once must not both write one revision."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from clocks.schedules import Schedule
from contracts.schedules import SCHEDULES, ScheduleSpec, schedule_partition
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from trigger_gateway.adapters.clock import stored_now
from trigger_gateway.adapters.keyset import newest_first
from trigger_gateway.adapters.locks import Locks

Document = dict[str, Any]
MAX_LISTED = 1000
"""The most schedules one listing answers (newest first)."""


def new_schedule_id() -> str:
    return "sch_" + secrets.token_hex(12)


class ScheduleRepository:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        locks: Locks,
        *,
        clock: Callable[[], datetime] = stored_now,
    ) -> None:
        self._schedules = db[SCHEDULES]
        self._locks = locks
        self._clock = clock  # a stored time: to the millisecond

    async def ensure_indexes(self) -> None:
        await self._schedules.create_index([("tenant_id", ASCENDING), ("workflow_id", ASCENDING)])

    async def create(
        self, tenant_id: str, schedule_id: str, spec: ScheduleSpec, schedule: Schedule
    ) -> Document:
        """Stored as revision 1, next due at ``schedule``'s first fire after now."""
        now = self._clock()
        doc = {
            "_id": schedule_id,
            "tenant_id": tenant_id,
            **spec.model_dump(mode="json"),
            "partition": schedule_partition(schedule_id),
            "next_run_at": schedule.next_after(now),
            "last_run_at": None,
            "last_trigger_id": None,
            "fires": 0,
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        await self._schedules.insert_one(doc)
        return doc

    async def replace(
        self, tenant_id: str, schedule_id: str, spec: ScheduleSpec, schedule: Schedule
    ) -> Document | None:
        """``spec`` as the next revision, next due at ``schedule``'s first fire after now;
        what it fired is kept. None when the tenant has no such schedule."""
        async with self._locks.held(f"schedule:{schedule_id}"):
            current = await self.get(tenant_id, schedule_id)
            if current is None:
                return None
            now = self._clock()
            changes = {
                **spec.model_dump(mode="json"),
                "next_run_at": schedule.next_after(now),
                "revision": int(current["revision"]) + 1,
                "updated_at": now,
            }
            return await self._schedules.find_one_and_update(
                {"_id": schedule_id, "tenant_id": tenant_id},
                {"$set": changes},
                return_document=ReturnDocument.AFTER,
            )

    async def get(self, tenant_id: str, schedule_id: str) -> Document | None:
        return await self._schedules.find_one({"_id": schedule_id, "tenant_id": tenant_id})

    async def list(self, tenant_id: str, workflow_id: str | None = None) -> list[Document]:
        """The tenant's schedules (or one workflow's), newest first, at most MAX_LISTED."""
        query: Document = {"tenant_id": tenant_id}
        if workflow_id is not None:
            query["workflow_id"] = workflow_id
        cursor = self._schedules.find(query, sort=newest_first("created_at"), limit=MAX_LISTED)
        return [doc async for doc in cursor]

    async def delete(self, tenant_id: str, schedule_id: str) -> bool:
        result = await self._schedules.delete_one({"_id": schedule_id, "tenant_id": tenant_id})
        return result.deleted_count == 1
