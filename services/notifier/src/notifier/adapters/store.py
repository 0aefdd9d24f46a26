"""The notifications collection: one document per idempotency key, written before acting, for
the deliveries that keep no record on a message of theirs (chat replies, kinds that send
nothing, channels not connected; an SMS or WhatsApp message keeps its own:
notifier.domain.delivery.logged). Written once, those deliveries being done when recorded,
except Slack and Teams posts: pending before the post, settled after."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from servicekit.mongo import find_matching

Document = dict[str, Any]


class NotificationRepository:
    def __init__(self, db: AsyncDatabase[Document], *, one_by_one: bool = False) -> None:
        """``one_by_one``: on FerretDB, earlier records read one at a time, all at once."""
        self._db = db
        self._one_by_one = one_by_one

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
            return await self.recorded(docs[error["index"]]["_id"] for error in errors)
        return {}

    async def recorded(self, keys: Iterable[str]) -> dict[str, Document]:
        """The records of these idempotency keys, by key."""
        found = await find_matching(
            self._db.notifications, "_id", keys, one_by_one=self._one_by_one
        )
        return {doc["_id"]: doc for doc in found}

    async def settle(self, records: Iterable[Document]) -> None:
        """What the sends of recorded deliveries became (Slack and Teams posts: status, result
        or error, sent_at), each written while its record is pending: the first answer wins."""
        kept = ("status", "result", "error", "sent_at")
        await asyncio.gather(
            *(
                self._db.notifications.update_one(
                    {"_id": r["_id"], "status": "pending"},
                    {"$set": {f: r[f] for f in kept if f in r}},
                )
                for r in records
            )
        )
