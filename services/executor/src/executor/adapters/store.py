"""MongoDB repositories of the executor, the only writer of execution state."""

from __future__ import annotations

import contextlib
from typing import Any

from contracts.watchdog import BUCKET_SECONDS
from contracts.workflow import definition_of
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, CollectionInvalid, DuplicateKeyError

from executor.adapters.execution_documents import loaded, stored

Document = dict[str, Any]


class ConcurrentUpdate(Exception):
    """The execution changed since it was read: another writer got there first."""


# Written under load, read by _id only: created at start-up (FerretDB creates a collection
# under its metadata lock, which must not happen under load: deploy/local/infra/ferretdb.sh).
PLAIN_COLLECTIONS = ("conversations", "messages", "tenant_variables", "contact_addresses")


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Every index the executor's queries use, and the collections it writes (idempotent)."""
    existing = set(await db.list_collection_names())
    for name in PLAIN_COLLECTIONS:
        if name not in existing:
            with contextlib.suppress(CollectionInvalid):  # another service made it meanwhile
                await db.create_collection(name)
    await db.workflows.create_index(
        [("tenant_id", ASCENDING), ("trigger_type", ASCENDING), ("is_active", ASCENDING)]
    )
    await db.workflows.create_index([("tenant_id", ASCENDING), ("is_active", ASCENDING)])
    await db.executions.create_index(
        [("trigger_id", ASCENDING), ("workflow_id", ASCENDING)], unique=True
    )
    await db.executions.create_index(
        [("tenant_id", ASCENDING), ("workflow_id", ASCENDING), ("started_at", DESCENDING)]
    )
    await db.node_runs.create_index([("execution_id", ASCENDING), ("seq", ASCENDING)])
    # the watchdog's slots (contracts.watchdog), read one equality at a time by the scheduler
    await db.executions.create_index([("watch", ASCENDING)])
    await db.executions.create_index([("watch_deadline", ASCENDING)])


class WorkflowCatalogue:
    """Active workflows per trigger, and definitions per immutable version (cached forever:
    a version never changes)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._definitions: dict[tuple[str, int], Document] = {}

    async def active_for(self, tenant_id: str, trigger_type: str) -> list[Document]:
        """Read at every trigger, not cached: a workflow activated a moment ago must run for
        the very next message."""
        cursor = self._db.workflows.find(
            {"tenant_id": tenant_id, "trigger_type": trigger_type, "is_active": True},
            projection={
                "_id": 1,
                "active_version": 1,
                "name": 1,
                "trigger_type": 1,
                "activated_at": 1,
            },
        )
        return [doc async for doc in cursor]

    async def active_of(self, tenant_id: str) -> dict[str, list[Document]]:
        """The tenant's active workflows by trigger type, in one query (read at every
        batch, as ``active_for``)."""
        cursor = self._db.workflows.find(
            {"tenant_id": tenant_id, "is_active": True},
            projection={
                "_id": 1,
                "active_version": 1,
                "name": 1,
                "trigger_type": 1,
                "activated_at": 1,
                "resources_revision": 1,
            },
        )
        by_type: dict[str, list[Document]] = {}
        async for doc in cursor:
            by_type.setdefault(str(doc.get("trigger_type")), []).append(doc)
        return by_type

    async def workflow(self, tenant_id: str, workflow_id: str) -> Document | None:
        return await self._db.workflows.find_one({"_id": workflow_id, "tenant_id": tenant_id})

    async def definition(self, workflow_id: str, version: int) -> Document:
        key = (workflow_id, version)
        cached = self._definitions.get(key)
        if cached is None:
            doc = await self._db.workflow_versions.find_one({"_id": f"{workflow_id}:{version}"})
            if doc is None:
                raise LookupError(f"workflow {workflow_id} has no version {version}")
            cached = self._definitions[key] = definition_of(doc)
        return cached


class ExecutionRepository:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        check_version_by_read: bool = False,
        watch_bucket_seconds: int = BUCKET_SECONDS,
    ) -> None:
        """``check_version_by_read``: where the storage filters by ``_id`` alone (FerretDB
        on SQLite: a ``{_id, version}`` filter reads the whole collection, seconds at
        thousands of executions), the version is read by ``_id`` and compared before the
        replace (FerretDB's own update is the same read-modify-write, so nothing is lost).
        MongoDB and FerretDB on PostgreSQL (``Mongo.pushes_down_fields``) get the
        conditional replace: one command."""
        self._db = db
        self._check_version_by_read = check_version_by_read
        self._bucket = watch_bucket_seconds

    async def create(self, doc: Document) -> bool:
        """Insert a new execution; False when one already exists for (trigger, workflow)."""
        try:
            await self._db.executions.insert_one(stored(doc, self._bucket))
        except DuplicateKeyError:
            return False
        return True

    async def create_many(self, docs: list[Document]) -> set[str]:
        """Insert new executions in one command; the ids of those that already existed."""
        if not docs:
            return set()
        try:
            await self._db.executions.insert_many(
                [stored(d, self._bucket) for d in docs], ordered=False
            )
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()

    async def record_trigger_outcomes(self, docs: list[Document]) -> None:
        """What triggers did besides starting executions (workflows they did not start, and
        why; executions they resumed), one document per trigger, ``_id`` = its id: a
        redelivered trigger's is there already."""
        try:
            await self._db.trigger_outcomes.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def get(self, execution_id: str) -> Document | None:
        return loaded(await self._db.executions.find_one({"_id": execution_id}))

    async def trigger_outcome(self, trigger_id: str) -> Document | None:
        return await self._db.trigger_outcomes.find_one({"_id": trigger_id})

    async def save(self, doc: Document, expected_version: int, *, fresh: bool = False) -> None:
        """Replace the execution if nobody wrote it since ``expected_version`` was read."""
        if self._check_version_by_read and fresh:
            # Inserted by this process moments ago and owned through its partition: the read
            # would only repeat what we know.
            await self._db.executions.replace_one({"_id": doc["_id"]}, stored(doc, self._bucket))
            return
        if self._check_version_by_read:
            current = await self._db.executions.find_one(
                {"_id": doc["_id"]}, projection={"version": 1}
            )
            if current is None or current.get("version") != expected_version:
                raise ConcurrentUpdate(f"execution {doc['_id']} is past version {expected_version}")
            await self._db.executions.replace_one({"_id": doc["_id"]}, stored(doc, self._bucket))
            return
        result = await self._db.executions.replace_one(
            {"_id": doc["_id"], "version": expected_version}, stored(doc, self._bucket)
        )
        if result.matched_count != 1:
            raise ConcurrentUpdate(f"execution {doc['_id']} is past version {expected_version}")

    async def record_node_runs(self, runs: list[Document]) -> None:
        """Insert node-run documents (one per command, ``node_runs_document``); ids are
        deterministic, so a redelivered command adds nothing."""
        if not runs:
            return
        try:
            await self._db.node_runs.insert_many(runs, ordered=False)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
            if others:
                raise
