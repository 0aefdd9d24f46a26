"""The tenants' connections (`connections`) and the workflows' choice of them
(`workflow_connections`, the spec's WorkflowIntegration). The gateway writes both; the
integrations service reads them (integrations.adapters.connections) and alone opens the sealed
credentials.

A connection: `_id` `con_<hex>`, tenant_id, type, name (unique in the tenant), mode, is_active,
is_default, config, credentials (a sealed JSON object, purpose `connection.credentials:<id>`),
credential_fields (their names), status (`connected`, `pending`, `broken` with
broken_reason), limits, last_check, created_at, updated_at. A workflow's choice:
`_id` `tenant:workflow`, connections `{type: connection id}`."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure
from servicekit.mongo import is_duplicate_key

Document = dict[str, Any]


class NameTaken(Exception):
    pass


def new_connection_id() -> str:
    return "con_" + secrets.token_hex(8)


class ConnectionRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def ensure_indexes(self) -> None:
        await self._db.connections.create_index(
            [("tenant_id", ASCENDING), ("name", ASCENDING)], unique=True
        )
        await self._db.connections.create_index([("tenant_id", ASCENDING), ("type", ASCENDING)])

    async def create(self, doc: Document) -> Document:
        """NameTaken when the tenant has a connection of that name."""
        now = datetime.now(UTC)
        doc = {**doc, "created_at": now, "updated_at": now}
        try:
            await self._db.connections.insert_one(doc)
        except DuplicateKeyError:
            raise NameTaken(doc["name"]) from None
        if doc.get("is_default"):
            await self._only_default(doc)
        return doc

    async def update(
        self, tenant_id: str, connection_id: str, changes: Document, unset: tuple[str, ...] = ()
    ) -> Document | None:
        update: Document = {"$set": {**changes, "updated_at": datetime.now(UTC)}}
        if unset:
            update["$unset"] = {field: "" for field in unset}
        try:
            doc = await self._db.connections.find_one_and_update(
                {"_id": connection_id, "tenant_id": tenant_id},
                update,
                return_document=ReturnDocument.AFTER,
            )
        except OperationFailure as exc:
            if not is_duplicate_key(exc):
                raise
            raise NameTaken(changes.get("name", "")) from None
        if doc is not None and changes.get("is_default"):
            await self._only_default(doc)
        return doc

    async def _only_default(self, doc: Document) -> None:
        """One default per type: the others of the tenant's type stop being it."""
        await self._db.connections.update_many(
            {
                "tenant_id": doc["tenant_id"],
                "type": doc["type"],
                "is_default": True,
                "_id": {"$ne": doc["_id"]},
            },
            {"$set": {"is_default": False, "updated_at": datetime.now(UTC)}},
        )

    async def list(self, tenant_id: str, type_name: str | None = None) -> list[Document]:
        query: Document = {"tenant_id": tenant_id}
        if type_name is not None:
            query["type"] = type_name
        cursor = self._db.connections.find(
            query, sort=[("type", ASCENDING), ("name", ASCENDING)], limit=1000
        )
        return [doc async for doc in cursor]

    async def get(self, tenant_id: str, connection_id: str) -> Document | None:
        return await self._db.connections.find_one({"_id": connection_id, "tenant_id": tenant_id})

    async def find(self, tenant_id: str, id_or_name: str) -> Document | None:
        field = "_id" if id_or_name.startswith("con_") else "name"
        return await self._db.connections.find_one({"tenant_id": tenant_id, field: id_or_name})

    async def delete(self, tenant_id: str, connection_id: str) -> Document | None:
        """The deleted connection (None: there was none); workflows assigned it lose it."""
        doc = await self._db.connections.find_one_and_delete(
            {"_id": connection_id, "tenant_id": tenant_id}
        )
        if doc is not None:
            field = f"connections.{doc['type']}"
            await self._db.workflow_connections.update_many(
                {"tenant_id": tenant_id, field: connection_id}, {"$unset": {field: ""}}
            )
        return doc

    async def record_check(self, tenant_id: str, connection_id: str, check: Document) -> None:
        await self._db.connections.update_one(
            {"_id": connection_id, "tenant_id": tenant_id}, {"$set": {"last_check": check}}
        )

    async def assign(
        self, tenant_id: str, workflow_id: str, connections: dict[str, str]
    ) -> Document:
        """The workflow's connections, one per type, replaced by these."""
        doc = await self._db.workflow_connections.find_one_and_update(
            {"_id": f"{tenant_id}:{workflow_id}"},
            {
                "$set": {
                    "tenant_id": tenant_id,
                    "workflow_id": workflow_id,
                    "connections": connections,
                    "updated_at": datetime.now(UTC),
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return doc

    async def assigned(self, tenant_id: str, workflow_id: str) -> dict[str, str]:
        doc = await self._db.workflow_connections.find_one({"_id": f"{tenant_id}:{workflow_id}"})
        return dict((doc or {}).get("connections") or {})
