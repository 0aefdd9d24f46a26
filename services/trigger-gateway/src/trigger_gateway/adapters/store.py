"""MongoDB repositories of the gateway: tenants, API keys, workflows and their versions,
trigger receipts, and read-only views of executions and node runs (the executor writes those)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Every index the gateway's queries use (idempotent)."""
    await db.api_keys.create_index([("tenant_id", ASCENDING)])
    await db.workflows.create_index([("tenant_id", ASCENDING), ("created_at", DESCENDING)])
    await db.workflows.create_index(
        [("tenant_id", ASCENDING), ("trigger_type", ASCENDING), ("is_active", ASCENDING)]
    )
    await db.workflow_versions.create_index(
        [("workflow_id", ASCENDING), ("version", ASCENDING)], unique=True
    )
    await db.executions.create_index([("tenant_id", ASCENDING), ("trigger_id", ASCENDING)])
    await db.executions.create_index(
        [("tenant_id", ASCENDING), ("workflow_id", ASCENDING), ("started_at", DESCENDING)]
    )
    await db.node_runs.create_index([("execution_id", ASCENDING), ("seq", ASCENDING)])


def connect(uri: str, database: str) -> tuple[AsyncMongoClient[Document], AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    return client, client[database]


class TenantRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def create(self, tenant_id: str, name: str, key_digest: str) -> None:
        now = datetime.now(UTC)
        await self._db.tenants.insert_one({"_id": tenant_id, "name": name, "created_at": now})
        await self._db.api_keys.insert_one(
            {"_id": key_digest, "tenant_id": tenant_id, "created_at": now}
        )

    async def tenant_for_key(self, key_digest: str) -> str | None:
        doc = await self._db.api_keys.find_one({"_id": key_digest})
        return None if doc is None else str(doc["tenant_id"])


class WorkflowRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def create(self, workflow: Document, definition: Document) -> None:
        """The workflow and its immutable version 1."""
        await self._db.workflow_versions.insert_one(
            {
                "_id": f"{workflow['_id']}:1",
                "workflow_id": workflow["_id"],
                "tenant_id": workflow["tenant_id"],
                "version": 1,
                "definition": definition,
                "created_at": workflow["created_at"],
            }
        )
        await self._db.workflows.insert_one(workflow)

    async def get(self, tenant_id: str, workflow_id: str) -> Document | None:
        return await self._db.workflows.find_one({"_id": workflow_id, "tenant_id": tenant_id})

    async def activate(self, tenant_id: str, workflow_id: str) -> Document | None:
        """Make the latest version the active one: new executions run it."""
        doc = await self.get(tenant_id, workflow_id)
        if doc is None:
            return None
        return await self._db.workflows.find_one_and_update(
            {"_id": workflow_id, "tenant_id": tenant_id},
            {
                "$set": {
                    "is_active": True,
                    "active_version": doc["latest_version"],
                    "activated_at": datetime.now(UTC),
                }
            },
            return_document=ReturnDocument.AFTER,
        )

    async def versioned_definition(self, workflow_id: str, version: int) -> Document | None:
        doc = await self._db.workflow_versions.find_one({"_id": f"{workflow_id}:{version}"})
        return None if doc is None else dict(doc["definition"])


class TriggerReceiptRepository:
    """Provider retries carry the same event id: the first receipt wins."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def record(self, tenant_id: str, event_id: str, trigger_id: str) -> Document | None:
        """None when this event is new; otherwise the earlier receipt."""
        try:
            await self._db.trigger_receipts.insert_one(
                {
                    "_id": f"{tenant_id}:{event_id}",
                    "trigger_id": trigger_id,
                    "published": False,
                    "received_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return await self._db.trigger_receipts.find_one({"_id": f"{tenant_id}:{event_id}"})
        return None

    async def mark_published(self, tenant_id: str, event_id: str) -> None:
        await self._db.trigger_receipts.update_one(
            {"_id": f"{tenant_id}:{event_id}"}, {"$set": {"published": True}}
        )


class ExecutionReadRepository:
    """What the history API reads; the executor is the only writer."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def get(self, tenant_id: str, execution_id: str) -> Document | None:
        return await self._db.executions.find_one(
            {"_id": execution_id, "tenant_id": tenant_id},
            projection={"state_json": 0, "outbox": 0},
        )

    async def find(
        self, tenant_id: str, *, trigger_id: str | None, workflow_id: str | None, limit: int
    ) -> list[Document]:
        query: Document = {"tenant_id": tenant_id}
        if trigger_id:
            query["trigger_id"] = trigger_id
        if workflow_id:
            query["workflow_id"] = workflow_id
        cursor = self._db.executions.find(
            query,
            projection={"state_json": 0, "outbox": 0, "trigger_json": 0, "variables_json": 0},
            sort=[("created_at", DESCENDING)],
        ).limit(limit)
        return [doc async for doc in cursor]

    async def node_runs(self, execution_id: str) -> list[Document]:
        cursor = self._db.node_runs.find({"execution_id": execution_id}, sort=[("seq", ASCENDING)])
        return [doc async for doc in cursor]
