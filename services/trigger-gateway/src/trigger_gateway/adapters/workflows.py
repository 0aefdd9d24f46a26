"""Workflows and their immutable versions (`_id` = `workflow_id:version`).

A workflow document says which version new executions run (`active_version`, read by the
executor with `is_active` and `trigger_type`); a version is never changed once written, so an
execution pinned to it runs the definition it started with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.workflow import definition_of, stored_definition
from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from trigger_gateway.adapters.keyset import newest_first, older_than

Document = dict[str, Any]
_PUBLISH_RACES = 5


class UnknownVersion(LookupError):
    """The workflow has no such version."""


class WorkflowRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def create(self, workflow: Document, definition: Document) -> None:
        """The workflow and its immutable version 1."""
        await self._db.workflow_versions.insert_one(
            _version_doc(
                workflow["_id"], workflow["tenant_id"], 1, definition, workflow["created_at"]
            )
        )
        await self._db.workflows.insert_one(workflow)

    async def get(self, tenant_id: str, workflow_id: str) -> Document | None:
        return await self._db.workflows.find_one({"_id": workflow_id, "tenant_id": tenant_id})

    async def page(
        self, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Document]:
        """The tenant's workflows, newest first."""
        query: Document = {"tenant_id": tenant_id}
        if after is not None:
            query.update(older_than("created_at", *after))
        cursor = self._db.workflows.find(query, sort=newest_first("created_at")).limit(limit)
        return [doc async for doc in cursor]

    async def publish(
        self, tenant_id: str, workflow_id: str, definition: Document
    ) -> tuple[Document, int] | None:
        """A new immutable version (latest + 1): the workflow after it and the version's number;
        None when the tenant has no such workflow.

        Two publishes at once cannot get the same number: the version's `_id` is unique, so the
        slower one takes the next number. Which version runs does not change (see `activate`)."""
        for _ in range(_PUBLISH_RACES):
            doc = await self.get(tenant_id, workflow_id)
            if doc is None:
                return None
            version = int(doc["latest_version"]) + 1
            now = datetime.now(UTC)
            try:
                await self._db.workflow_versions.insert_one(
                    _version_doc(workflow_id, tenant_id, version, definition, now)
                )
            except DuplicateKeyError:
                continue
            await self._db.workflows.update_one(
                {"_id": workflow_id},
                {
                    "$max": {"latest_version": version},
                    "$set": {"name": definition["name"], "updated_at": now},
                },
            )
            # An inactive workflow takes the new trigger type at once; an active one keeps
            # its active version's until another version is activated.
            await self._db.workflows.update_one(
                {"_id": workflow_id, "is_active": False},
                {"$set": {"trigger_type": definition["triggerType"]}},
            )
            after = await self.get(tenant_id, workflow_id)
            return (after, version) if after is not None else None
        raise RuntimeError(f"workflow {workflow_id}: too many versions published at once")

    async def versions(self, workflow_id: str, *, limit: int, before: int | None) -> list[Document]:
        """Versions newest first, without their definitions."""
        query: Document = {"workflow_id": workflow_id}
        if before is not None:
            query["version"] = {"$lt": before}
        cursor = self._db.workflow_versions.find(
            query,
            projection={"definition": 0, "definition_json": 0},
            sort=[("version", DESCENDING)],
        ).limit(limit)
        return [doc async for doc in cursor]

    async def version(self, workflow_id: str, version: int) -> Document | None:
        return await self._db.workflow_versions.find_one({"_id": f"{workflow_id}:{version}"})

    async def versioned_definition(self, workflow_id: str, version: int) -> Document | None:
        doc = await self.version(workflow_id, version)
        return None if doc is None else definition_of(doc)

    async def activate(
        self, tenant_id: str, workflow_id: str, version: int | None = None
    ) -> Document | None:
        """Make `version` (default: the latest) the one new executions run; None when the
        tenant has no such workflow, UnknownVersion when the version does not exist."""
        doc = await self.get(tenant_id, workflow_id)
        if doc is None:
            return None
        number = int(doc["latest_version"]) if version is None else version
        chosen = await self.version(workflow_id, number)
        if chosen is None:
            raise UnknownVersion(f"workflow {workflow_id} has no version {number}")
        trigger_type = chosen.get("trigger_type") or definition_of(chosen)["triggerType"]
        return await self._db.workflows.find_one_and_update(
            {"_id": workflow_id, "tenant_id": tenant_id},
            {
                "$set": {
                    "is_active": True,
                    "active_version": number,
                    "trigger_type": trigger_type,
                    "activated_at": datetime.now(UTC),
                }
            },
            return_document=ReturnDocument.AFTER,
        )

    async def deactivate(self, tenant_id: str, workflow_id: str) -> Document | None:
        """New triggers start nothing; running executions carry on with their version."""
        return await self._db.workflows.find_one_and_update(
            {"_id": workflow_id, "tenant_id": tenant_id},
            {"$set": {"is_active": False, "deactivated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )


def _version_doc(
    workflow_id: str, tenant_id: str, version: int, definition: Document, at: datetime
) -> Document:
    return {
        "_id": f"{workflow_id}:{version}",
        "workflow_id": workflow_id,
        "tenant_id": tenant_id,
        "version": version,
        "name": definition["name"],
        "trigger_type": definition["triggerType"],
        "node_count": len(definition.get("nodes", [])),
        **stored_definition(definition),
        "created_at": at,
    }
