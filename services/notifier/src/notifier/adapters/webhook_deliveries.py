"""Pending and past webhook deliveries (``webhook_deliveries``, ``_id`` = ``whd_...`` of the
endpoint and the event, so a redelivered event is stored once): the body to POST, status
(pending, delivered, failed), attempts and their log, the next attempt's time.

The dispatcher reads what is due (status pending, next attempt passed), claims each by moving
its next attempt past a lease (conditional on the time it read: another process that read the
same loses), sends, and writes the outcome; a process that stops mid-attempt leaves the
delivery to whoever reads it after the lease. Every write is by ``_id``; no upsert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from notifier.domain.webhooks import PENDING

Document = dict[str, Any]


class WebhookDeliveries:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def ensure_indexes(self) -> None:
        """Also makes the collection at start-up (FerretDB: never under load)."""
        deliveries = self._db.webhook_deliveries
        await deliveries.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])
        await deliveries.create_index(
            [("tenant_id", ASCENDING), ("endpoint_id", ASCENDING), ("created_at", ASCENDING)]
        )

    async def insert(self, docs: list[Document]) -> int:
        """Store new deliveries (one write); those stored before are left as they are. How
        many were new."""
        if not docs:
            return 0
        try:
            await self._db.webhook_deliveries.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            return len(docs) - len(errors)
        return len(docs)

    async def due(self, now: datetime, limit: int) -> list[Document]:
        cursor = self._db.webhook_deliveries.find(
            {"status": PENDING, "next_attempt_at": {"$lte": now}},
            sort=[("next_attempt_at", ASCENDING)],
            limit=limit,
        )
        return [doc async for doc in cursor]

    async def claim(self, delivery: Document, until: datetime) -> bool:
        """Whether this process has the delivery until ``until`` (nobody claimed it since it
        was read)."""
        result = await self._db.webhook_deliveries.update_one(
            {
                "_id": delivery["_id"],
                "status": PENDING,
                "next_attempt_at": delivery["next_attempt_at"],
            },
            {"$set": {"next_attempt_at": until}},
        )
        return result.modified_count == 1

    async def record(self, delivery_id: str, fields: Document, entry: Document | None) -> None:
        """An attempt's outcome (and its line in the log)."""
        update: Document = {"$set": fields}
        if entry is not None:
            update["$push"] = {"attempt_log": entry}
        await self._db.webhook_deliveries.update_one({"_id": delivery_id}, update)
