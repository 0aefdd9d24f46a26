"""Lexical search over a document set's chunks (knowledge.retrieval: BM25, no key needed),
with the built indexes kept in a small LRU.

An index is of one set of document revisions: the key is the tenant and each document's
(id, revision), so a re-indexed document (a new revision) or another set builds a new one,
and a kept one is never stale."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from knowledge.retrieval import LexicalIndex, Passage, rank

IndexKey = tuple[str, tuple[tuple[str, int], ...]]
KEPT_INDEXES = 32


@dataclass(frozen=True)
class ChunkOf:
    """Where a passage comes from."""

    document_id: str
    title: str
    seq: int
    heading: str | None


@dataclass(frozen=True)
class Found:
    chunk: ChunkOf
    passage: Passage


class SearchIndex:
    """The chunks of one set of document revisions, indexed."""

    def __init__(self, chunks: Iterable[Mapping[str, Any]]) -> None:
        self._texts: dict[str, str] = {}
        self._chunks: dict[str, ChunkOf] = {}
        for chunk in chunks:
            key = str(chunk["_id"])
            self._texts[key] = str(chunk["text"])
            self._chunks[key] = ChunkOf(
                document_id=str(chunk["document_id"]),
                title=str(chunk.get("title") or ""),
                seq=int(chunk["seq"]),
                heading=chunk.get("heading"),
            )
        self._index = LexicalIndex(list(self._texts.items())) if self._texts else None

    def __len__(self) -> int:
        return len(self._texts)

    def search(self, query: str, *, top_k: int, min_score: float) -> list[Found]:
        if self._index is None:
            return []
        passages = rank(query, self._index, self._texts, top_k=top_k, min_score=min_score)
        return [Found(self._chunks[p.key], p) for p in passages]


class IndexCache:
    """The last ``size`` indexes used, least recently used forgotten first."""

    def __init__(self, size: int = KEPT_INDEXES) -> None:
        self._size = size
        self._kept: OrderedDict[IndexKey, SearchIndex] = OrderedDict()

    def get(self, key: IndexKey) -> SearchIndex | None:
        index = self._kept.get(key)
        if index is not None:
            self._kept.move_to_end(key)
        return index

    def put(self, key: IndexKey, index: SearchIndex) -> None:
        self._kept[key] = index
        self._kept.move_to_end(key)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)


def index_key(tenant_id: str, revisions: Iterable[tuple[str, int]]) -> IndexKey:
    return tenant_id, tuple(sorted(revisions))
