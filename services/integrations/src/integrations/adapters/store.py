"""The integration_calls collection: one document per idempotency key, written before acting."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]


def connect(uri: str, database: str) -> tuple[AsyncMongoClient[Document], AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    return client, client[database]


class IntegrationCallRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def ensure_indexes(self) -> None:
        await self._db.integration_calls.create_index([("execution_id", ASCENDING)])

    async def start(self, doc: Document) -> Document | None:
        """Record a call as started; the earlier record when the key was seen before."""
        try:
            await self._db.integration_calls.insert_one(doc)
        except DuplicateKeyError:
            return await self._db.integration_calls.find_one({"_id": doc["_id"]})
        return None

    async def finish(self, key: str, outcome: Document) -> None:
        await self._db.integration_calls.update_one({"_id": key}, {"$set": outcome})
