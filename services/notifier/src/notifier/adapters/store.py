"""The notifications collection: one document per idempotency key, written before acting."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

Document = dict[str, Any]


class NotificationRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def ensure_indexes(self) -> None:
        await self._db.notifications.create_index(
            [("tenant_id", ASCENDING), ("conversation_id", ASCENDING), ("created_at", ASCENDING)]
        )
        await self._db.notifications.create_index([("execution_id", ASCENDING)])

    async def record_many(self, docs: list[Document]) -> dict[str, Document]:
        """Record deliveries under their idempotency keys (``_id``) in one write; the earlier
        records of those that existed, by ``_id``."""
        if not docs:
            return {}
        try:
            await self._db.notifications.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            earlier: dict[str, Document] = {}
            for error in errors:
                key = docs[error["index"]]["_id"]
                found = await self._db.notifications.find_one({"_id": key})
                if found is not None:
                    earlier[key] = found
            return earlier
        return {}
