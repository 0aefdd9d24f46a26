"""The `integrations` collection: one connection per tenant and integration type,
`_id` = `tenant_id:type`. The gateway writes it; the integrations service reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class ConnectionRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def put(self, tenant_id: str, integration: str, settings: Document) -> Document:
        """Create or replace the tenant's connection to `integration`."""
        now = datetime.now(UTC)
        update: Document = {
            "$set": {"tenant_id": tenant_id, "type": integration, **settings, "updated_at": now},
            "$setOnInsert": {"created_at": now},
        }
        # A replaced connection forgets the settings of its former mode.
        if stale := {k: "" for k in ("base_url", "timeout_seconds") if k not in settings}:
            update["$unset"] = stale
        doc = await self._db.integrations.find_one_and_update(
            {"_id": f"{tenant_id}:{integration}"},
            update,
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return doc

    async def list(self, tenant_id: str) -> list[Document]:
        cursor = self._db.integrations.find({"tenant_id": tenant_id}, sort=[("type", ASCENDING)])
        return [doc async for doc in cursor]

    async def get(self, tenant_id: str, integration: str) -> Document | None:
        return await self._db.integrations.find_one({"_id": f"{tenant_id}:{integration}"})

    async def delete(self, tenant_id: str, integration: str) -> bool:
        result = await self._db.integrations.delete_one({"_id": f"{tenant_id}:{integration}"})
        return result.deleted_count == 1
