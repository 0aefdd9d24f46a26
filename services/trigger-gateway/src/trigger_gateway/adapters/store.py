"""MongoDB connection, the gateway's indexes, tenants (name, `plan`: contracts.ai.PLANS) and
API keys, trigger receipts.

The other collections the gateway reads or writes have their own modules: `workflows`
(workflows and versions), `history` (executions and node runs, read-only), `dead_letters`
(read-only), `connections` (the tenants' integration connections), `documents`,
`ai_settings` and `workflow_resources` (knowledge bases, AI configurations, classification
settings and what each workflow has attached)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, cast

from contracts.ai import DEFAULT_PLAN, PLANS, Plan
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
KEY_CACHE_SECONDS = 60.0
_NEWEST = [("_id", DESCENDING)]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Every index the gateway's queries use (idempotent)."""
    await db.api_keys.create_index([("tenant_id", ASCENDING)])
    await db.workflows.create_index(
        [("tenant_id", ASCENDING), ("created_at", DESCENDING), *_NEWEST]
    )
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
    for history in ([], [("status", ASCENDING)]):  # a workflow's executions, by status or not
        await db.executions.create_index(
            [
                ("tenant_id", ASCENDING),
                ("workflow_id", ASCENDING),
                *history,
                ("created_at", DESCENDING),
                *_NEWEST,
            ]
        )
    await db.node_runs.create_index([("execution_id", ASCENDING), ("seq", ASCENDING)])
    for scope in ([("original_headers.tenant_id", ASCENDING)], []):  # a tenant's, or all (admin)
        for narrowed in ([], [("consumer", ASCENDING)], [("original_topic", ASCENDING)]):
            keys = [*scope, *narrowed, ("failed_at", DESCENDING), *_NEWEST]
            await db.dead_letters.create_index(keys)
    await db.integrations.create_index([("tenant_id", ASCENDING), ("type", ASCENDING)])


class TenantRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._known_keys: dict[str, tuple[str, float]] = {}

    async def create(
        self, tenant_id: str, name: str, key_digest: str, plan: str = DEFAULT_PLAN
    ) -> None:
        now = datetime.now(UTC)
        await self._db.tenants.insert_one(
            {"_id": tenant_id, "name": name, "plan": plan, "created_at": now}
        )
        await self._db.api_keys.insert_one(
            {"_id": key_digest, "tenant_id": tenant_id, "created_at": now}
        )

    async def get(self, tenant_id: str) -> Document | None:
        return await self._db.tenants.find_one({"_id": tenant_id})

    async def plan_of(self, tenant_id: str) -> Plan:
        """The tenant's plan (contracts.ai.PLANS); tenants made before plans have the default."""
        doc = await self._db.tenants.find_one({"_id": tenant_id}, projection={"plan": 1})
        plan = (doc or {}).get("plan")
        return cast(Plan, plan) if plan in PLANS else DEFAULT_PLAN

    async def update(self, tenant_id: str, changes: Document) -> Document | None:
        """The tenant after ``changes`` (name, plan); None when there is no such tenant."""
        return await self._db.tenants.find_one_and_update(
            {"_id": tenant_id},
            {"$set": {**changes, "updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )

    async def tenant_for_key(self, key_digest: str) -> str | None:
        """The tenant of a key. Known keys are remembered for a minute (every trigger carries
        one; keys are never reassigned); unknown keys are always looked up."""
        now = time.monotonic()
        cached = self._known_keys.get(key_digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        doc = await self._db.api_keys.find_one({"_id": key_digest})
        if doc is None:
            return None
        if len(self._known_keys) >= 10_000:
            self._known_keys.clear()
        self._known_keys[key_digest] = (str(doc["tenant_id"]), now + KEY_CACHE_SECONDS)
        return str(doc["tenant_id"])


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
