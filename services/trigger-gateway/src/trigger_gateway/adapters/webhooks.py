"""The tenants' webhook endpoints (``webhook_endpoints``, ``_id`` = ``whk_...``: url, event
types, active, description, the signing secret sealed with servicekit.sealing for the tenant
and purpose ``webhook.secret``, created/updated, why and when it was disabled) and, read from
the notifier's ``webhook_deliveries``, what was delivered to them. The notifier reads the
endpoints (within a second of a change) and disables one that answers 410."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from trigger_gateway.adapters.keyset import newest_first, older_than

Document = dict[str, Any]
WEBHOOK_SECRET = "webhook.secret"
"""The purpose an endpoint's secret is sealed for."""


async def ensure_webhook_indexes(db: AsyncDatabase[Document]) -> None:
    """The notifier makes the deliveries' too; whichever starts first."""
    await db.webhook_endpoints.create_index([("tenant_id", ASCENDING), ("created_at", ASCENDING)])
    await db.webhook_deliveries.create_index(
        [("tenant_id", ASCENDING), ("endpoint_id", ASCENDING), ("created_at", ASCENDING)]
    )


class WebhookRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def create(self, doc: Document) -> Document:
        now = datetime.now(UTC)
        doc = {**doc, "created_at": now, "updated_at": now}
        await self._db.webhook_endpoints.insert_one(doc)
        return doc

    async def count(self, tenant_id: str) -> int:
        return await self._db.webhook_endpoints.count_documents({"tenant_id": tenant_id})

    async def of_tenant(self, tenant_id: str) -> list[Document]:
        cursor = self._db.webhook_endpoints.find(
            {"tenant_id": tenant_id}, sort=[("created_at", ASCENDING), ("_id", ASCENDING)]
        )
        return [doc async for doc in cursor]

    async def get(self, tenant_id: str, endpoint_id: str) -> Document | None:
        doc: Document | None = await self._db.webhook_endpoints.find_one(
            {"_id": endpoint_id, "tenant_id": tenant_id}
        )
        return doc

    async def update(
        self, tenant_id: str, endpoint_id: str, sets: Document, unsets: tuple[str, ...] = ()
    ) -> Document | None:
        update: Document = {"$set": {**sets, "updated_at": datetime.now(UTC)}}
        if unsets:
            update["$unset"] = dict.fromkeys(unsets, "")
        doc: Document | None = await self._db.webhook_endpoints.find_one_and_update(
            {"_id": endpoint_id, "tenant_id": tenant_id},
            update,
            return_document=ReturnDocument.AFTER,
        )
        return doc

    async def delete(self, tenant_id: str, endpoint_id: str) -> bool:
        result = await self._db.webhook_endpoints.delete_one(
            {"_id": endpoint_id, "tenant_id": tenant_id}
        )
        return result.deleted_count == 1

    async def add_delivery(self, doc: Document) -> None:
        """A delivery the notifier attempts (a ping), due at once."""
        await self._db.webhook_deliveries.insert_one(doc)

    async def deliveries(
        self,
        tenant_id: str,
        endpoint_id: str,
        *,
        status: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[Document]:
        """Newest first."""
        query: Document = {"tenant_id": tenant_id, "endpoint_id": endpoint_id}
        if status is not None:
            query["status"] = status
        if after is not None:
            query = {"$and": [query, older_than("created_at", *after)]}
        cursor = self._db.webhook_deliveries.find(query, sort=newest_first("created_at"))
        return [doc async for doc in cursor.limit(limit)]
