"""MongoDB repositories of the executor, the only writer of execution state."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

Document = dict[str, Any]


class ConcurrentUpdate(Exception):
    """The execution changed since it was read: another writer got there first."""


def connect(uri: str, database: str) -> tuple[AsyncMongoClient[Document], AsyncDatabase[Document]]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    return client, client[database]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Every index the executor's queries use (idempotent)."""
    await db.workflows.create_index(
        [("tenant_id", ASCENDING), ("trigger_type", ASCENDING), ("is_active", ASCENDING)]
    )
    await db.executions.create_index(
        [("trigger_id", ASCENDING), ("workflow_id", ASCENDING)], unique=True
    )
    await db.executions.create_index(
        [("tenant_id", ASCENDING), ("workflow_id", ASCENDING), ("started_at", DESCENDING)]
    )
    await db.node_runs.create_index([("execution_id", ASCENDING), ("seq", ASCENDING)])


class WorkflowCatalog:
    """Active workflows per trigger, and definitions per immutable version (cached forever:
    a version never changes)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._definitions: dict[tuple[str, int], Document] = {}

    async def active_for(self, tenant_id: str, trigger_type: str) -> list[Document]:
        cursor = self._db.workflows.find(
            {"tenant_id": tenant_id, "trigger_type": trigger_type, "is_active": True},
            projection={"_id": 1, "active_version": 1, "name": 1},
        )
        return [doc async for doc in cursor]

    async def definition(self, workflow_id: str, version: int) -> Document:
        key = (workflow_id, version)
        cached = self._definitions.get(key)
        if cached is None:
            doc = await self._db.workflow_versions.find_one({"_id": f"{workflow_id}:{version}"})
            if doc is None:
                raise LookupError(f"workflow {workflow_id} has no version {version}")
            cached = self._definitions[key] = doc["definition"]
        return cached


class ExecutionRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def create(self, doc: Document) -> bool:
        """Insert a new execution; False when one already exists for (trigger, workflow)."""
        try:
            await self._db.executions.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, execution_id: str) -> Document | None:
        return await self._db.executions.find_one({"_id": execution_id})

    async def save(self, doc: Document, expected_version: int) -> None:
        """Replace the execution if nobody wrote it since ``expected_version`` was read."""
        result = await self._db.executions.replace_one(
            {"_id": doc["_id"], "version": expected_version}, doc
        )
        if result.matched_count != 1:
            raise ConcurrentUpdate(f"execution {doc['_id']} is past version {expected_version}")

    async def record_node_runs(self, runs: list[Document]) -> None:
        """Insert node runs; ids are deterministic, so a redelivered command adds nothing."""
        if not runs:
            return
        try:
            await self._db.node_runs.insert_many(runs, ordered=False)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
            if others:
                raise
