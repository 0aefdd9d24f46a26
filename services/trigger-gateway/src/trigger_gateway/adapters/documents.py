"""A tenant's knowledge-base documents (`documents`) and their chunks (`document_chunks`).

A document: `_id` `doc_` + 24 hex, tenant_id, title, format, text (the extracted text),
bytes (the content's size), characters (the text's), revision (1, then one more per
re-index), chunk_count, metadata, created_at, updated_at. A chunk: `_id`
contracts.ai.chunk_ref(document, revision, seq), tenant_id, document_id, revision, seq, text,
start, end (offsets in the document's text), heading, title (the document's).

The chunks of a revision are written before the document names that revision, and the older
revisions' deleted after, so a reader that takes the document's revision always finds its
chunks. A re-index holds the document's lock (adapters/locks.py) so two at once cannot both
write one revision."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contracts.ai import DOCUMENT_CHUNKS, DOCUMENTS, chunk_ref
from knowledge.chunking import Chunk
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from trigger_gateway.adapters.clock import stored_now
from trigger_gateway.adapters.keyset import newest_first, older_than
from trigger_gateway.adapters.locks import Locks

Document = dict[str, Any]
_INSERT_BATCH = 1000
_WITHOUT_TEXT = {"text": 0}


def new_document_id() -> str:
    return "doc_" + secrets.token_hex(12)


def chunk_documents(
    tenant_id: str, document_id: str, revision: int, title: str, chunks: Sequence[Chunk]
) -> list[Document]:
    return [
        {
            "_id": chunk_ref(document_id, revision, c.seq),
            "tenant_id": tenant_id,
            "document_id": document_id,
            "revision": revision,
            "seq": c.seq,
            "text": c.text,
            "start": c.start,
            "end": c.end,
            "heading": c.heading,
            "title": title,
        }
        for c in chunks
    ]


class DocumentRepository:
    def __init__(self, db: AsyncDatabase[Document], locks: Locks) -> None:
        self._documents = db[DOCUMENTS]
        self._chunks = db[DOCUMENT_CHUNKS]
        self._locks = locks

    async def ensure_indexes(self) -> None:
        await self._documents.create_index(
            [("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]
        )
        await self._chunks.create_index(
            [
                ("tenant_id", ASCENDING),
                ("document_id", ASCENDING),
                ("revision", ASCENDING),
                ("seq", ASCENDING),
            ]
        )

    async def create(self, doc: Document, chunks: Sequence[Chunk]) -> Document:
        """``doc`` (with its text) stored as revision 1, its chunks first."""
        now = stored_now()
        doc = {**doc, "revision": 1, "chunk_count": len(chunks), "created_at": now}
        doc["updated_at"] = now
        await self._insert_chunks(
            chunk_documents(doc["tenant_id"], doc["_id"], 1, doc["title"], chunks)
        )
        await self._documents.insert_one(doc)
        return doc

    async def reindex(
        self, tenant_id: str, document_id: str, fields: Document, chunks: Sequence[Chunk]
    ) -> Document | None:
        """The document with ``fields`` (title, format, text, ...) as its next revision and
        ``chunks`` as that revision's; None when the tenant has no such document."""
        async with self._locks.held(f"document:{document_id}"):
            current = await self.get(tenant_id, document_id)
            if current is None:
                return None
            revision = int(current["revision"]) + 1
            title = str(fields["title"])
            await self._chunks.delete_many(  # a re-index that died part way left these
                {"tenant_id": tenant_id, "document_id": document_id, "revision": revision}
            )
            await self._insert_chunks(
                chunk_documents(tenant_id, document_id, revision, title, chunks)
            )
            changes = {
                **fields,
                "revision": revision,
                "chunk_count": len(chunks),
                "updated_at": stored_now(),
            }
            await self._documents.update_one(
                {"_id": document_id, "tenant_id": tenant_id}, {"$set": changes}
            )
            await self._chunks.delete_many(
                {
                    "tenant_id": tenant_id,
                    "document_id": document_id,
                    "revision": {"$lt": revision},
                }
            )
            return {**current, **changes}

    async def _insert_chunks(self, docs: list[Document]) -> None:
        for start in range(0, len(docs), _INSERT_BATCH):
            await self._chunks.insert_many(docs[start : start + _INSERT_BATCH])

    async def get(self, tenant_id: str, document_id: str) -> Document | None:
        """The document without its text."""
        return await self._documents.find_one(
            {"_id": document_id, "tenant_id": tenant_id}, projection=_WITHOUT_TEXT
        )

    async def count(self, tenant_id: str) -> int:
        return await self._documents.count_documents({"tenant_id": tenant_id})

    async def page(
        self, tenant_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Document]:
        """The tenant's documents, newest first, without their text."""
        query: Document = {"tenant_id": tenant_id}
        if after is not None:
            query.update(older_than("created_at", *after))
        cursor = self._documents.find(
            query, projection=_WITHOUT_TEXT, sort=newest_first("created_at"), limit=limit
        )
        return [doc async for doc in cursor]

    async def revisions(self, tenant_id: str, document_ids: Sequence[str] | None) -> list[Document]:
        """(`_id`, title, revision) of these documents (None: all the tenant's), in the order
        asked; those the tenant does not have are left out. One equality read each: FerretDB
        pushes no `$in` down."""
        projection = {"title": 1, "revision": 1}
        if document_ids is None:
            cursor = self._documents.find(
                {"tenant_id": tenant_id}, projection=projection, sort=[("_id", ASCENDING)]
            )
            return [doc async for doc in cursor]
        found = await asyncio.gather(
            *(
                self._documents.find_one({"_id": i, "tenant_id": tenant_id}, projection=projection)
                for i in dict.fromkeys(document_ids)
            )
        )
        return [doc for doc in found if doc is not None]

    async def chunks(
        self,
        tenant_id: str,
        document_id: str,
        revision: int,
        *,
        limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[Document]:
        """One revision's chunks by seq (after ``after_seq``)."""
        query: Document = {"tenant_id": tenant_id, "document_id": document_id, "revision": revision}
        if after_seq is not None:
            query["seq"] = {"$gt": after_seq}
        cursor = self._chunks.find(query, sort=[("seq", ASCENDING)])
        if limit is not None:
            cursor = cursor.limit(limit)
        return [doc async for doc in cursor]

    async def delete(self, tenant_id: str, document_id: str) -> bool:
        """The document and its chunks gone; False when the tenant had no such document."""
        async with self._locks.held(f"document:{document_id}"):
            result = await self._documents.delete_one({"_id": document_id, "tenant_id": tenant_id})
            if result.deleted_count == 0:
                return False
            await self._chunks.delete_many({"tenant_id": tenant_id, "document_id": document_id})
            return True
