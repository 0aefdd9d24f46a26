"""The timers collection: one document per idempotency key; a timer is claimed before it fires."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]


def connect(uri: str, database: str) -> tuple[AsyncMongoClient[Document], AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    return client, client[database]


class TimerRepository:
    def __init__(self, db: AsyncDatabase[Document], *, claim_timeout: timedelta) -> None:
        self._db = db
        self._claim_timeout = claim_timeout

    async def ensure_indexes(self) -> None:
        await self._db.timers.create_index([("status", ASCENDING), ("fire_at", ASCENDING)])
        await self._db.timers.create_index([("execution_id", ASCENDING)])

    async def add(self, doc: Document) -> bool:
        """Store a timer under its idempotency key; False if it was stored before."""
        try:
            await self._db.timers.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def due(self, now: datetime, limit: int) -> list[Document]:
        """Pending timers whose time has come, and claims that a crashed replica left behind."""
        stale = now - self._claim_timeout
        cursor = self._db.timers.find(
            {
                "$or": [
                    {"status": "pending", "fire_at": {"$lte": now}},
                    {"status": "firing", "claimed_at": {"$lte": stale}},
                ]
            },
            sort=[("fire_at", ASCENDING)],
        ).limit(limit)
        return [doc async for doc in cursor]

    async def claim(self, doc: Document, owner: str, now: datetime) -> bool:
        """Take a due timer for this replica; False when another one took it."""
        claimed = await self._db.timers.find_one_and_update(
            {"_id": doc["_id"], "status": doc["status"], "claimed_at": doc.get("claimed_at")},
            {"$set": {"status": "firing", "claimed_by": owner, "claimed_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return claimed is not None

    async def mark_fired(self, timer_id: str, now: datetime) -> None:
        await self._db.timers.update_one(
            {"_id": timer_id}, {"$set": {"status": "fired", "fired_at": now}}
        )
