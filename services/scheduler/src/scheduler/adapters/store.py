"""MongoDB: `timers`, one document per idempotency key (`_id`) from its request until it is
purged: pending, then fired or cancelled (a cancel that came before its request leaves a
cancelled tombstone under the key); and `dead_letters`.

FerretDB 1.x filters in its storage only equalities (`{field: value}`): `$in`, ranges and sorts
make it read and decode the whole collection. So every query the running scheduler makes is an
equality, on PostgreSQL served by the GIN index on each field of the declared indexes
(deploy/local/infra/ferretdb-indexes.sql): by `_id`, by {partition, bucket, status} for the
pending timers of one minute, and by {partition, status} once per partition assigned. Only the
hourly purge of settled timers filters on a range. Writes go by `_id`: storing a timer is one
insert (a duplicate key: it is there already, in whatever state), cancelling one conditional
update, marking a page fired one bulk write. On SQLite FerretDB filters by `_id` alone: a
bucket's read scans the collection (the firing loop reads each bucket once) and a cancel reads
the timer before updating it (``cancel_by_read``).

No write relies on its condition being applied atomically (FerretDB's updates read, then
write): one replica owns a partition's timers and, within a replica, firing and cancelling take
turns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from scheduler.domain.timers import (
    CancelOutcome,
    TimerStatus,
    bucket_of,
    cancelled_fields,
    fired_fields,
)

Document = dict[str, Any]
INDEX_OPTIONS_CONFLICT = 85  # "Index already exists with a different name"
PENDING = TimerStatus.PENDING.value


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


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """The indexes of `timers` (creating the collection, which is then there to be asked about:
    ``Mongo.pushes_down_fields``)."""
    timers = db.timers
    await _ensure_index(
        timers, [("partition", ASCENDING), ("bucket", ASCENDING)], "by_partition_bucket"
    )
    await _ensure_index(timers, [("execution_id", ASCENDING)], "execution")
    await _ensure_index(timers, [("settled_at", ASCENDING)], "settled")


class TimerRepository:
    def __init__(self, db: AsyncDatabase[Document], *, cancel_by_read: bool = False) -> None:
        """``cancel_by_read``: where the storage filters by ``_id`` alone (FerretDB on SQLite),
        a cancel reads the timer by ``_id`` and then updates it by ``_id`` (two commands)
        instead of one update on ``{_id, status: pending}``, which would read every timer."""
        self._timers = db.timers
        self._cancel_by_read = cancel_by_read

    async def add(self, doc: Document) -> bool:
        """Store a pending timer under its idempotency key; False if the key is there already:
        pending, fired, cancelled, or a tombstone left by a cancel that came first."""
        try:
            await self._timers.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def cancel(
        self, timer_id: str, tombstone: Document, now: datetime
    ) -> tuple[CancelOutcome, Document | None]:
        """Cancel a pending timer, or leave a tombstone when its request has not come yet; with
        the timer as it was when a pending one was cancelled."""
        if self._cancel_by_read:
            return await self._cancel_read_first(timer_id, tombstone, now)
        pending = await self._timers.find_one_and_update(
            {"_id": timer_id, "status": PENDING}, {"$set": cancelled_fields(now)}
        )
        if pending is not None:
            return CancelOutcome.CANCELLED, pending
        return await self._settled_or_tombstone(timer_id, tombstone), None

    async def _cancel_read_first(
        self, timer_id: str, tombstone: Document, now: datetime
    ) -> tuple[CancelOutcome, Document | None]:
        timer = await self._timers.find_one({"_id": timer_id})
        if timer is None:
            return await self._settled_or_tombstone(timer_id, tombstone), None
        if timer["status"] != PENDING:
            return _ended(timer), None
        await self._timers.update_one({"_id": timer_id}, {"$set": cancelled_fields(now)})
        return CancelOutcome.CANCELLED, timer

    async def _settled_or_tombstone(self, timer_id: str, tombstone: Document) -> CancelOutcome:
        """No pending timer has the key: leave the tombstone, or (a duplicate key) say how the
        timer ended; that costs a read, needed only after a fire or for a repeated cancel."""
        try:
            await self._timers.insert_one(tombstone)
        except DuplicateKeyError:
            settled = await self._timers.find_one({"_id": timer_id}, projection={"status": 1})
            return CancelOutcome.REPEATED if settled is None else _ended(settled)
        return CancelOutcome.TOMBSTONE

    async def pending_buckets(self, partition: int) -> dict[int, datetime]:
        """When the first pending timer of each bucket of ``partition`` is due: the one read of
        all of a partition's pending timers, when it is assigned. Timers stored by an earlier
        version, which have no bucket, get theirs."""
        earliest: dict[int, datetime] = {}
        untagged: list[UpdateOne] = []
        cursor = self._timers.find(
            {"partition": partition, "status": PENDING}, projection={"fire_at": 1, "bucket": 1}
        )
        async for doc in cursor:
            fire_at: datetime = doc["fire_at"]
            bucket = bucket_of(fire_at)
            if doc.get("bucket") != bucket:
                untagged.append(UpdateOne({"_id": doc["_id"]}, {"$set": {"bucket": bucket}}))
            earliest[bucket] = min(fire_at, earliest.get(bucket, fire_at))
        if untagged:
            await self._timers.bulk_write(untagged, ordered=False)
        return earliest

    async def pending(self, partition: int, bucket: int) -> list[Document]:
        """The pending timers of ``partition`` due in ``bucket``."""
        cursor = self._timers.find({"partition": partition, "bucket": bucket, "status": PENDING})
        return await cursor.to_list()

    async def mark_fired(self, timers: list[Document], fired_at: datetime, owner: str) -> None:
        """Record that these timers' settlements were published: they are pending no more (and
        fired, even if another replica saw them cancelled meanwhile: they did fire)."""
        settle = {"$set": fired_fields(fired_at, owner)}
        await self._timers.bulk_write(
            [UpdateOne({"_id": t["_id"]}, settle) for t in timers], ordered=False
        )

    async def purge_settled(self, before: datetime) -> int:
        """Forget timers settled before ``before`` (FerretDB has no TTL indexes); how many. On
        FerretDB this reads the whole collection: once an hour."""
        deleted = await self._timers.delete_many({"settled_at": {"$lt": before}})
        return deleted.deleted_count


def _ended(timer: Document) -> CancelOutcome:
    """What a cancel of a settled timer is."""
    if timer["status"] == TimerStatus.FIRED:
        return CancelOutcome.TOO_LATE
    return CancelOutcome.REPEATED
