"""MongoDB: `timers` (pending timers), `settled_timers` (fired, cancelled, tombstones) and
`dead_letters`. A timer lives in one of the two under its idempotency key.

Pending and settled timers are apart so that the firing loop's queries (the pending timers of
the partitions this replica owns, due first, a page at a time, on the (partition, fire_at)
index) only ever touch what is still to fire, and so that no timer is ever updated: firing or
cancelling inserts into `settled_timers` and deletes from `timers`. On FerretDB both matter: it
scans the collection for every query but a lookup by `_id` (no index push-down), and an update
costs a scan per document, where inserts and deletes by `_id` are cheap.

No write relies on an atomic compare-and-set (FerretDB's are read-modify-write): one replica
owns a partition's timers and, within a replica, firing and cancelling take turns.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from scheduler.domain.timers import CancelOutcome, TimerStatus, settled_document

Document = dict[str, Any]
DUPLICATE_KEY = 11000
INDEX_OPTIONS_CONFLICT = 85  # "Index already exists with a different name"


async def _ensure_index(
    collection: AsyncCollection[Document], keys: list[tuple[str, int]], name: str
) -> None:
    """Create the index unless the same keys are indexed already, under any name (a database
    made by an earlier version keeps its index names and works the same)."""
    try:
        await collection.create_index(keys, name=name)
    except OperationFailure as exc:
        if exc.code != INDEX_OPTIONS_CONFLICT:
            raise


class TimerRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._pending = db.timers
        self._settled = db.settled_timers

    async def ensure_indexes(self) -> None:
        await _ensure_index(
            self._pending, [("partition", ASCENDING), ("fire_at", ASCENDING)], "by_partition_due"
        )
        await _ensure_index(self._pending, [("execution_id", ASCENDING)], "execution")
        await _ensure_index(self._settled, [("settled_at", ASCENDING)], "settled")
        await _ensure_index(self._settled, [("execution_id", ASCENDING)], "execution")

    async def add(self, doc: Document) -> bool:
        """Store a pending timer under its idempotency key; False if it is there already, or
        settled (fired, cancelled, or a tombstone left by a cancel that came first)."""
        if await self._settled.find_one({"_id": doc["_id"]}, projection={"_id": 1}):
            return False
        try:
            await self._pending.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def cancel(self, timer_id: str, tombstone: Document, now: datetime) -> CancelOutcome:
        """Cancel a pending timer, or leave a tombstone when its request has not come yet."""
        pending = await self._pending.find_one({"_id": timer_id})
        if pending is not None:
            await self._settle([settled_document(pending, TimerStatus.CANCELLED, now)])
            return CancelOutcome.CANCELLED
        settled = await self._settled.find_one({"_id": timer_id}, projection={"status": 1})
        if settled is None:
            await self._settle([tombstone])
            return CancelOutcome.TOMBSTONE
        if settled["status"] == TimerStatus.FIRED:
            return CancelOutcome.TOO_LATE
        return CancelOutcome.REPEATED

    async def due(self, partitions: Collection[int], now: datetime, limit: int) -> list[Document]:
        """The first ``limit`` pending timers of ``partitions`` due by ``now``, earliest first."""
        cursor = self._pending.find(
            {"partition": {"$in": list(partitions)}, "fire_at": {"$lte": now}},
            sort=[("fire_at", ASCENDING)],
            limit=limit,
        )
        return [doc async for doc in cursor]

    async def next_due(self, partitions: Collection[int]) -> datetime | None:
        """When the earliest pending timer of ``partitions`` is due; None when there is none."""
        first = await self._pending.find_one(
            {"partition": {"$in": list(partitions)}},
            sort=[("fire_at", ASCENDING)],
            projection={"fire_at": 1},
        )
        return first["fire_at"] if first else None

    async def mark_fired(self, timers: list[Document], fired_at: datetime, owner: str) -> None:
        """Record that these timers' settlements were published: they are pending no more."""
        await self._settle(
            [settled_document(t, TimerStatus.FIRED, fired_at, fired_by=owner) for t in timers]
        )

    async def _settle(self, docs: list[Document]) -> None:
        """Insert into settled, then delete from pending: a crash in between leaves a timer in
        both, and the next round settles it again (the insert is then a duplicate)."""
        try:
            await self._settled.insert_many(docs, ordered=False)
        except BulkWriteError as error:
            if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise
        if len(docs) == 1:  # by _id alone: no scan on FerretDB
            await self._pending.delete_one({"_id": docs[0]["_id"]})
        else:  # one scan for the page
            await self._pending.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})

    async def purge_settled(self, before: datetime) -> int:
        """Forget timers settled before ``before`` (FerretDB has no TTL indexes); how many."""
        deleted = await self._settled.delete_many({"settled_at": {"$lt": before}})
        return deleted.deleted_count
