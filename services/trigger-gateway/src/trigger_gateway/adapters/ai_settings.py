"""A tenant's AI configurations (`ai_configs`) and classification settings
(`tenant_classification`).

An AI configuration: `_id` `aic_` + 24 hex, tenant_id, the fields of contracts.ai.AIConfigSpec
as they are (name unique in the tenant, connection as given, model, temperature, max_tokens,
system_prompt, tone, language, tools_allowed, retrieval, timeout_seconds), connection_id (the
connection `connection` named when it was saved, or null), revision (1, then one more per
change), created_at, updated_at. The executor reads the spec's fields
(executor.runtime.resources.ai_config_view).

Classification settings: `_id` the tenant id, tenant_id, the fields of
contracts.ai.ClassificationSettings (sentiment, intents as a list of `{name, description,
examples}` documents: FerretDB refuses arrays in arrays only, not arrays in documents in
arrays), engine, ai_config_id, min_confidence, revision (one more per change: the executor
keeps its trained classifier by it), updated_at."""

from __future__ import annotations

import secrets
from typing import Any

from contracts.ai import AI_CONFIGS, CLASSIFICATION
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure
from servicekit.mongo import is_duplicate_key

from trigger_gateway.adapters.clock import stored_now
from trigger_gateway.adapters.locks import Locks

Document = dict[str, Any]


class NameTaken(Exception):
    pass


def new_ai_config_id() -> str:
    return "aic_" + secrets.token_hex(12)


class AIConfigRepository:
    def __init__(self, db: AsyncDatabase[Document], locks: Locks) -> None:
        self._configs = db[AI_CONFIGS]
        self._locks = locks

    async def ensure_indexes(self) -> None:
        await self._configs.create_index(
            [("tenant_id", ASCENDING), ("name", ASCENDING)], unique=True
        )

    async def create(self, doc: Document) -> Document:
        """Stored as revision 1; NameTaken when the tenant has one of that name."""
        now = stored_now()
        doc = {**doc, "revision": 1, "created_at": now, "updated_at": now}
        try:
            await self._configs.insert_one(doc)
        except DuplicateKeyError:
            raise NameTaken(doc["name"]) from None
        return doc

    async def replace(self, tenant_id: str, config_id: str, fields: Document) -> Document | None:
        """``fields`` replace the stored ones, as the next revision; None when the tenant has
        no such configuration, NameTaken when another has the name."""
        async with self._locks.held(f"ai_config:{config_id}"):
            current = await self.get(tenant_id, config_id)
            if current is None:
                return None
            update = {
                "$set": {
                    **fields,
                    "revision": int(current["revision"]) + 1,
                    "updated_at": stored_now(),
                }
            }
            try:
                return await self._configs.find_one_and_update(
                    {"_id": config_id, "tenant_id": tenant_id},
                    update,
                    return_document=ReturnDocument.AFTER,
                )
            except OperationFailure as exc:  # FerretDB: an InternalError, not DuplicateKeyError
                if not is_duplicate_key(exc):
                    raise
                raise NameTaken(fields["name"]) from None

    async def get(self, tenant_id: str, config_id: str) -> Document | None:
        return await self._configs.find_one({"_id": config_id, "tenant_id": tenant_id})

    async def list(self, tenant_id: str) -> list[Document]:
        cursor = self._configs.find(
            {"tenant_id": tenant_id}, sort=[("name", ASCENDING)], limit=1000
        )
        return [doc async for doc in cursor]

    async def count(self, tenant_id: str) -> int:
        return await self._configs.count_documents({"tenant_id": tenant_id})

    async def delete(self, tenant_id: str, config_id: str) -> bool:
        result = await self._configs.delete_one({"_id": config_id, "tenant_id": tenant_id})
        return result.deleted_count == 1


class ClassificationRepository:
    def __init__(self, db: AsyncDatabase[Document], locks: Locks) -> None:
        self._settings = db[CLASSIFICATION]
        self._locks = locks

    async def get(self, tenant_id: str) -> Document | None:
        return await self._settings.find_one({"_id": tenant_id})

    async def put(self, tenant_id: str, fields: Document) -> Document:
        """``fields`` stored as the next revision."""
        async with self._locks.held(f"classification:{tenant_id}"):
            current = await self.get(tenant_id)
            doc = {
                "_id": tenant_id,
                "tenant_id": tenant_id,
                **fields,
                "revision": int((current or {}).get("revision") or 0) + 1,
                "updated_at": stored_now(),
            }
            if current is None:
                await self._settings.insert_one(doc)
            else:
                await self._settings.replace_one({"_id": tenant_id}, doc)
            return doc

    async def touch(self, tenant_id: str, config_id: str) -> None:
        """The AI configuration the settings name changed: the next revision, so a
        classifier kept by the executor is made again."""
        async with self._locks.held(f"classification:{tenant_id}"):
            current = await self.get(tenant_id)
            if current is not None and current.get("ai_config_id") == config_id:
                await self._settings.update_one(
                    {"_id": tenant_id},
                    {
                        "$set": {
                            "revision": int(current.get("revision") or 0) + 1,
                            "updated_at": stored_now(),
                        }
                    },
                )
