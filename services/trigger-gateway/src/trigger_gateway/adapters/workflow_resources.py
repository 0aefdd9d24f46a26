"""What a tenant attached to a workflow (`workflow_resources`, the spec's workflow-scoped
resources), read by the executor when an execution starts.

`_id` contracts.ai.workflow_resources_ref(tenant, workflow): tenant_id, workflow_id,
document_ids, phone_number_ids (the numbers' `number_id`s), ai_config_id (or null),
assigned_at (`{id: when}` for each attached id), created_at, updated_at.

Every change is made under the workflow's lock (adapters/locks.py): the attachments are read,
the plan's limit checked and the document written back, then the workflow's
`resources_revision` (in `workflows`) is incremented, which is what the executor caches a
workflow's loaded resources by. Changes to an attached document or AI configuration increment
it too (`touch`)."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any, Literal

from contracts.ai import WORKFLOW_RESOURCES, workflow_resources_ref
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from trigger_gateway.adapters.clock import stored_now
from trigger_gateway.adapters.locks import Locks

Document = dict[str, Any]
ListField = Literal["document_ids", "phone_number_ids"]


class Change(Enum):
    MADE = "made"
    ALREADY = "already"  # attached before: nothing changed


class Full(Exception):
    """The workflow has ``current`` of these attached: the plan allows no more. (Not a
    frozen dataclass: a context manager sets an exception's ``__traceback__``.)"""

    def __init__(self, current: int) -> None:
        super().__init__(f"{current} attached")
        self.current = current


class WorkflowResourceRepository:
    def __init__(self, db: AsyncDatabase[Document], locks: Locks) -> None:
        self._resources = db[WORKFLOW_RESOURCES]
        self._workflows = db.workflows
        self._phone_numbers = db.phone_numbers
        self._locks = locks

    async def ensure_indexes(self) -> None:
        # which workflows attach a document, a number, an AI configuration (its delete and
        # its changes); one field each: FerretDB serves an equality on an index's first field
        for field in ("document_ids", "phone_number_ids", "ai_config_id"):
            await self._resources.create_index([(field, ASCENDING)])
        await self._phone_numbers.create_index([("number_id", ASCENDING)])

    async def get(self, tenant_id: str, workflow_id: str) -> Document | None:
        return await self._resources.find_one(
            {"_id": workflow_resources_ref(tenant_id, workflow_id)}
        )

    async def attach(
        self, tenant_id: str, workflow_id: str, field: ListField, item_id: str, most: int
    ) -> Change:
        """``item_id`` added to the workflow's ``field``; Full when it holds ``most``."""
        async with self._locks.held(self._key(tenant_id, workflow_id)):
            doc = await self.get(tenant_id, workflow_id) or {}
            attached = list(doc.get(field) or [])
            if item_id in attached:
                return Change.ALREADY
            if len(attached) >= most:
                raise Full(len(attached))
            await self._write(
                tenant_id, workflow_id, doc, {field: [*attached, item_id]}, assigned=item_id
            )
            return Change.MADE

    async def detach(
        self, tenant_id: str, workflow_id: str, field: ListField, item_id: str
    ) -> bool:
        """False when ``item_id`` was not attached."""
        async with self._locks.held(self._key(tenant_id, workflow_id)):
            doc = await self.get(tenant_id, workflow_id)
            attached = list((doc or {}).get(field) or [])
            if doc is None or item_id not in attached:
                return False
            kept = [i for i in attached if i != item_id]
            await self._write(tenant_id, workflow_id, doc, {field: kept}, released=item_id)
            return True

    async def set_ai_config(self, tenant_id: str, workflow_id: str, config_id: str) -> Change:
        async with self._locks.held(self._key(tenant_id, workflow_id)):
            doc = await self.get(tenant_id, workflow_id) or {}
            before = doc.get("ai_config_id")
            if before == config_id:
                return Change.ALREADY
            await self._write(
                tenant_id,
                workflow_id,
                doc,
                {"ai_config_id": config_id},
                assigned=config_id,
                released=before,
            )
            return Change.MADE

    async def clear_ai_config(self, tenant_id: str, workflow_id: str) -> bool:
        """False when the workflow had no AI configuration attached."""
        async with self._locks.held(self._key(tenant_id, workflow_id)):
            doc = await self.get(tenant_id, workflow_id)
            before = (doc or {}).get("ai_config_id")
            if doc is None or before is None:
                return False
            await self._write(tenant_id, workflow_id, doc, {"ai_config_id": None}, released=before)
            return True

    async def attaching(self, tenant_id: str, field: str, item_id: str) -> list[str]:
        """The workflows that have ``item_id`` in ``field`` (document_ids, phone_number_ids,
        ai_config_id)."""
        cursor = self._resources.find(
            {field: item_id, "tenant_id": tenant_id}, projection={"workflow_id": 1}
        )
        return sorted([str(doc["workflow_id"]) async for doc in cursor])

    async def forget(self, tenant_id: str, field: ListField, item_id: str) -> list[str]:
        """``item_id`` removed from every workflow that attached it (it was deleted): those
        workflows."""
        workflows = await self.attaching(tenant_id, field, item_id)
        await asyncio.gather(*(self.detach(tenant_id, w, field, item_id) for w in workflows))
        return workflows

    async def touch(self, tenant_id: str, workflow_id: str) -> None:
        """Something attached to the workflow changed: its resources are loaded again."""
        async with self._locks.held(self._key(tenant_id, workflow_id)):
            await self._bump(tenant_id, workflow_id)

    async def _write(
        self,
        tenant_id: str,
        workflow_id: str,
        doc: Document,
        fields: Document,
        *,
        assigned: str | None = None,
        released: str | None = None,
    ) -> None:
        now = stored_now()
        assigned_at = dict(doc.get("assigned_at") or {})
        if released is not None:
            assigned_at.pop(released, None)
        if assigned is not None:
            assigned_at[assigned] = now
        changes = {**fields, "assigned_at": assigned_at, "updated_at": now}
        if doc:
            await self._resources.update_one({"_id": doc["_id"]}, {"$set": changes})
        else:
            await self._resources.insert_one(
                {
                    "_id": workflow_resources_ref(tenant_id, workflow_id),
                    "tenant_id": tenant_id,
                    "workflow_id": workflow_id,
                    "document_ids": [],
                    "phone_number_ids": [],
                    "ai_config_id": None,
                    "created_at": now,
                    **changes,
                }
            )
        await self._bump(tenant_id, workflow_id)

    async def _bump(self, tenant_id: str, workflow_id: str) -> None:
        await self._workflows.update_one(
            {"_id": workflow_id, "tenant_id": tenant_id}, {"$inc": {"resources_revision": 1}}
        )

    @staticmethod
    def _key(tenant_id: str, workflow_id: str) -> str:
        return "workflow_resources:" + workflow_resources_ref(tenant_id, workflow_id)

    async def phone_number(self, tenant_id: str, number_id: str) -> Document | None:
        """The tenant's number (`phone_numbers`, adapters/channels.py) by its `number_id`."""
        return await self._phone_numbers.find_one({"number_id": number_id, "tenant_id": tenant_id})
