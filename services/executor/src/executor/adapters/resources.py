"""What the executor reads of a tenant's AI and knowledge resources (the gateway writes them:
docs/architecture.md, *Resources, retrieval and classification*): a workflow's attached
documents, phone numbers and AI configuration, and the tenant's classification settings."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from contracts.ai import (
    AI_CONFIGS,
    CLASSIFICATION,
    DOCUMENTS,
    WORKFLOW_RESOURCES,
    workflow_resources_ref,
)
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class ResourceRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def attached(self, tenant_id: str, workflow_id: str) -> Document | None:
        return await self._db[WORKFLOW_RESOURCES].find_one(
            {"_id": workflow_resources_ref(tenant_id, workflow_id)}
        )

    async def ai_config(self, tenant_id: str, config_id: str) -> Document | None:
        return await self._db[AI_CONFIGS].find_one({"_id": config_id, "tenant_id": tenant_id})

    async def documents(self, tenant_id: str, ids: list[str]) -> list[Document]:
        """The documents by id, in that order (one equality read each: FerretDB pushes no
        ``$in`` down); a deleted one is left out."""
        found = await asyncio.gather(
            *(
                self._db[DOCUMENTS].find_one(
                    {"_id": i, "tenant_id": tenant_id},
                    projection={"title": 1, "format": 1, "revision": 1, "chunk_count": 1},
                )
                for i in ids
            )
        )
        return [d for d in found if d is not None]

    async def phone_numbers(self, tenant_id: str, number_ids: list[str]) -> list[Document]:
        if not number_ids:
            return []
        cursor = self._db.phone_numbers.find(
            {"tenant_id": tenant_id}, projection={"number_id": 1, "name": 1, "whatsapp": 1}
        )
        wanted = set(number_ids)
        return [d async for d in cursor if d.get("number_id") in wanted]

    async def classification(self, tenant_id: str) -> Document | None:
        doc = await self._db[CLASSIFICATION].find_one({"_id": tenant_id})
        if doc is not None and "intents_json" in doc:  # stored as JSON text
            doc = {**doc, "intents": json.loads(doc["intents_json"])}
        return doc
