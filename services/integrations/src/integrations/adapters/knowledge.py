"""What AI Generate reads besides the model: the passages of the workflow's knowledge bases
(the gateway's ``documents`` and ``document_chunks``) and the conversation's latest messages
(the ``messages`` log). Ranked with knowledge.retrieval: BM25 alone, or hybrid with embeddings
when the AI configuration enables them; a chunk's embedding is computed once per model and
kept on the chunk (``embedding_json``, ``embedding_model``).

A built lexical index is kept per document set and revisions (an update of a document makes
a new revision, so a kept index is never stale); ``MAX_INDEXES`` of them."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.ai import DOCUMENT_CHUNKS, DOCUMENTS
from knowledge.retrieval import LexicalIndex, rank
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
Embed = Callable[[list[str]], Awaitable[list[list[float]]]]
MAX_INDEXES = 64
EMBED_BATCH = 96


@dataclass
class _Indexed:
    index: LexicalIndex
    texts: dict[str, str]
    chunks: dict[str, Document]
    embeddings: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # by model


class KnowledgeReader:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._indexes: OrderedDict[tuple[str, tuple[tuple[str, int], ...]], _Indexed] = (
            OrderedDict()
        )

    async def passages(
        self,
        tenant_id: str,
        document_ids: Sequence[str],
        query: str,
        *,
        top_k: int,
        min_score: float,
        embed: Embed | None = None,
        embedding_model: str | None = None,
    ) -> tuple[list[Document], int]:
        """The best passages for ``query`` (numbered from 1, best first) and how many of the
        documents exist (a deleted one is skipped)."""
        docs = await asyncio.gather(
            *(
                self._db[DOCUMENTS].find_one(
                    {"_id": d, "tenant_id": tenant_id}, projection={"revision": 1, "title": 1}
                )
                for d in dict.fromkeys(document_ids)
            )
        )
        found = [d for d in docs if d is not None]
        if not found or not query.strip():
            return [], len(found)
        indexed = await self._indexed(tenant_id, found)
        if not indexed.texts:
            return [], len(found)
        query_embedding = embeddings = None
        if embed is not None and embedding_model:
            embeddings = await self._embeddings(indexed, embed, embedding_model)
            query_embedding = (await embed([query]))[0]
        ranked = rank(
            query,
            indexed.index,
            indexed.texts,
            top_k=top_k,
            min_score=min_score,
            query_embedding=query_embedding,
            embeddings=embeddings,
        )
        return [
            {
                "n": n,
                "chunkId": p.key,
                "documentId": indexed.chunks[p.key]["document_id"],
                "title": indexed.chunks[p.key].get("title"),
                "seq": indexed.chunks[p.key].get("seq"),
                "heading": indexed.chunks[p.key].get("heading"),
                "text": p.text,
                "score": round(p.score, 4),
                "lexical": round(p.lexical, 4),
                **({"semantic": round(p.semantic, 4)} if p.semantic is not None else {}),
            }
            for n, p in enumerate(ranked, start=1)
        ], len(found)

    async def recent_messages(
        self, tenant_id: str, conversation_id: str, count: int
    ) -> list[Document]:
        """The conversation's latest ``count`` messages, oldest first."""
        if count <= 0:
            return []
        cursor = (
            self._db.messages.find(
                {"tenant_id": tenant_id, "conversation_id": conversation_id},
                projection={"direction": 1, "body": 1, "created_at": 1},
            )
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(count)
        )
        latest = [m async for m in cursor if m.get("body")]
        return latest[::-1]

    async def _indexed(self, tenant_id: str, docs: list[Document]) -> _Indexed:
        key = (tenant_id, tuple((str(d["_id"]), int(d.get("revision") or 1)) for d in docs))
        indexed = self._indexes.get(key)
        if indexed is not None:
            self._indexes.move_to_end(key)
            return indexed
        chunk_lists = await asyncio.gather(
            *(
                self._db[DOCUMENT_CHUNKS]
                .find(
                    {
                        "tenant_id": tenant_id,
                        "document_id": d["_id"],
                        "revision": int(d.get("revision") or 1),
                    }
                )
                .sort("seq")
                .to_list(None)
                for d in docs
            )
        )
        titles = {d["_id"]: d.get("title") for d in docs}
        chunks = {
            str(c["_id"]): {**c, "title": c.get("title") or titles.get(c["document_id"])}
            for cs in chunk_lists
            for c in cs
        }
        texts = {k: str(c.get("text") or "") for k, c in chunks.items()}
        index = await asyncio.to_thread(LexicalIndex, list(texts.items()))
        indexed = _Indexed(index, texts, chunks)
        for k, c in chunks.items():
            if c.get("embedding_model") and c.get("embedding_json"):
                by_model = indexed.embeddings.setdefault(str(c["embedding_model"]), {})
                by_model[k] = json.loads(c["embedding_json"])
        self._indexes[key] = indexed
        while len(self._indexes) > MAX_INDEXES:
            self._indexes.popitem(last=False)
        return indexed

    async def _embeddings(
        self, indexed: _Indexed, embed: Embed, model: str
    ) -> dict[str, list[float]]:
        """Every chunk's embedding by ``model``: the missing ones computed and kept."""
        known = indexed.embeddings.setdefault(model, {})
        missing = [k for k in indexed.texts if k not in known]
        for start in range(0, len(missing), EMBED_BATCH):
            keys = missing[start : start + EMBED_BATCH]
            vectors = await embed([indexed.texts[k] for k in keys])
            for k, vector in zip(keys, vectors, strict=True):
                known[k] = vector
            await asyncio.gather(
                *(
                    self._db[DOCUMENT_CHUNKS].update_one(
                        {"_id": k},
                        {"$set": {"embedding_model": model, "embedding_json": json.dumps(v)}},
                    )
                    for k, v in zip(keys, vectors, strict=True)
                )
            )
        return known
