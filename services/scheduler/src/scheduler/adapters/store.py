"""MongoDB: the `timers` collection (one document per idempotency key) and `dead_letters`.

The firing loop asks for the pending timers of its own partitions, due first, a page at a time,
on the (status, partition, fire_at) index; fired and cancelled timers carry ``settled_at`` and
are forgotten after a retention period (indexed too). No query
relies on an atomic compare-and-set (FerretDB's updates are read-modify-write): one replica owns
a partition's timers, and within a replica firing and cancelling take turns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from datetime import datetime
from typing import Any

from contracts.events import DeadLettered
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from scheduler.domain.timers import CancelOutcome, TimerStatus

Document = dict[str, Any]
PENDING = TimerStatus.PENDING.value


def connect(uri: str, database: str) -> tuple[AsyncMongoClient[Document], AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    return client, client[database]


class TimerRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._timers = db.timers

    async def ensure_indexes(self) -> None:
        await self._timers.create_index(
            [("status", ASCENDING), ("partition", ASCENDING), ("fire_at", ASCENDING)],
            name="pending_by_partition_due",
        )
        await self._timers.create_index([("execution_id", ASCENDING)], name="execution")
        await self._timers.create_index([("settled_at", ASCENDING)], name="settled")

    async def add(self, doc: Document) -> bool:
        """Store a timer under its idempotency key; False if one (or a tombstone) was there."""
        try:
            await self._timers.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def cancel(self, timer_id: str, tombstone: Document, now: datetime) -> CancelOutcome:
        """Cancel a pending timer, or leave a tombstone when its request has not come yet."""
        cancelled = await self._timers.update_one(
            {"_id": timer_id, "status": PENDING},
            {
                "$set": {
                    "status": TimerStatus.CANCELLED.value,
                    "cancelled_at": now,
                    "settled_at": now,
                }
            },
        )
        if cancelled.matched_count:
            return CancelOutcome.CANCELLED
        if await self.add(tombstone):
            return CancelOutcome.TOMBSTONE
        existing = await self._timers.find_one({"_id": timer_id}, projection={"status": 1})
        status = existing["status"] if existing else None
        return CancelOutcome.TOO_LATE if status == TimerStatus.FIRED else CancelOutcome.REPEATED

    async def due(self, partitions: Collection[int], now: datetime, limit: int) -> list[Document]:
        """The first ``limit`` pending timers of ``partitions`` due by ``now``, earliest first."""
        cursor = self._timers.find(
            {"status": PENDING, "partition": {"$in": list(partitions)}, "fire_at": {"$lte": now}},
            sort=[("fire_at", ASCENDING)],
            limit=limit,
        )
        return [doc async for doc in cursor]

    async def next_due(self, partitions: Collection[int]) -> datetime | None:
        """When the earliest pending timer of ``partitions`` is due; None when there is none."""
        first = await self._timers.find_one(
            {"status": PENDING, "partition": {"$in": list(partitions)}},
            sort=[("fire_at", ASCENDING)],
            projection={"fire_at": 1},
        )
        return first["fire_at"] if first else None

    async def mark_fired(self, timer_ids: list[str], fired_at: datetime, owner: str) -> None:
        """Record that these timers' settlements were published."""
        await self._timers.update_many(
            {"_id": {"$in": timer_ids}, "status": PENDING},
            {
                "$set": {
                    "status": TimerStatus.FIRED.value,
                    "fired_at": fired_at,
                    "fired_by": owner,
                    "settled_at": fired_at,
                }
            },
        )

    async def purge_settled(self, before: datetime) -> int:
        """Forget timers fired or cancelled before ``before`` (FerretDB has no TTL indexes);
        the number forgotten. Pending timers have no ``settled_at`` and stay."""
        deleted = await self._timers.delete_many({"settled_at": {"$lt": before}})
        return deleted.deleted_count


class DeadLetterRepository:
    """The `dead_letters` collection, where the management API lists them."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._dead_letters = db.dead_letters

    async def record(self, dead: DeadLettered) -> None:
        with contextlib.suppress(DuplicateKeyError):  # stored before
            await self._dead_letters.insert_one({**dead.model_dump(), "_id": dead.dead_letter_id})
