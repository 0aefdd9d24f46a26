"""Passages for a question: BM25 over a document set's chunks, alone or fused with embeddings.

Lexical relevance (``LexicalIndex.search``) is BM25 (Lucene variant as bm25s computes it,
k1 = 1.5, b = 0.75; NLTK's English stopwords, bm25s's ``en_plus``, removed, since questions
are mostly function words; Snowball English stems) divided by the score the query would get
from an ideal passage: one of average length that mentions each distinct query term once
(clipped to 1, reached by a passage that mentions every term, some of them more than
once). A query term the document set never uses still counts in the ideal passage, with the
IDF of the rarest possible term, so a question about something the documents do not mention
("what is the capital of France" to a shop) scores low instead of being judged on its one
common word. Within one query this is BM25's order; across queries a relevance means the
same (roughly: how much of the query's weight the passage matches), so one ``min_score``
holds for every question.

Hybrid ranking (``rank`` with embeddings) takes the best lexical and the best semantic
candidates and scores each ``(1 - w) * lexical + w * semantic``, the semantic part being the
cosine of the embeddings clipped to [0, 1]: both parts are on the same 0-to-1 scale, so the
fused score can be held to the same ``min_score`` as a lexical one."""

from __future__ import annotations

import functools
import itertools
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

K1, B = 1.5, 0.75

# Words are what is left between these: bm25s's default pattern, but split with
# str.translate, since a regular expression was most of the cost of building an index.
_SEPARATORS = str.maketrans(
    dict.fromkeys(
        string.punctuation
        + "\u00a1\u00ab\u00b7\u00bb\u00bf"
        + "".join(map(chr, range(0x2000, 0x2070))),
        " ",
    )
)


@dataclass(frozen=True)
class Passage:
    """A ranked passage: ``score`` ranks (0 to 1), ``lexical`` is its lexical relevance,
    ``semantic`` the clipped cosine of its embedding (None without one); ``rank`` from 1."""

    key: str
    text: str
    score: float
    lexical: float
    semantic: float | None
    rank: int


@functools.cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def _words(text: str) -> list[str]:
    stop = _stopwords()
    return [w for w in text.lower().translate(_SEPARATORS).split() if len(w) > 1 and w not in stop]


def terms(text: str) -> list[str]:
    """The index terms of ``text``: its lower-cased words of two characters or more, without
    stopwords, stemmed."""
    words = _words(text)
    return list(_stemmer().stemWords(words)) if words else []


class LexicalIndex:
    """A BM25 index of (key, text) items, built once per document set.

    The scores are bm25s's (Lucene variant), stored as bm25s stores them (one row of
    (passage, score) pairs per term), but computed with numpy in one pass: bm25s's own
    builder counts terms in Python, passage by passage."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._keys = [key for key, _ in items]
        # Word by word work is done once per distinct word; per occurrence only C loops.
        documents = [text.lower().translate(_SEPARATORS).split() for _, text in items]
        distinct = sorted(set().union(*documents))
        stop = _stopwords()
        kept = [w for w in distinct if len(w) > 1 and w not in stop]
        stems = _stemmer().stemWords(kept) if kept else []
        self._vocabulary: dict[str, int] = {}
        term_of = dict.fromkeys(distinct, -1)
        for word, stem in zip(kept, stems, strict=True):
            term_of[word] = self._vocabulary.setdefault(stem, len(self._vocabulary))
        n, size = len(documents), len(self._vocabulary)
        flat = np.fromiter(
            map(term_of.__getitem__, itertools.chain.from_iterable(documents)), dtype=np.int64
        )
        passage_of = np.repeat(np.arange(n, dtype=np.int64), [len(d) for d in documents])
        indexed = flat >= 0
        flat, passage_of = flat[indexed], passage_of[indexed]
        lengths = np.bincount(passage_of, minlength=n)
        pairs, frequency = np.unique(passage_of * size + flat, return_counts=True)
        passages, term_ids = np.divmod(pairs, max(size, 1))
        self._document_frequency = np.bincount(term_ids, minlength=size)
        idf = self._idf(self._document_frequency)
        average = float(lengths.mean()) if n and lengths.any() else 1.0
        length_norm = K1 * (1 - B + B * lengths / average)
        scores = idf[term_ids] * frequency / (frequency + length_norm[passages])
        by_term = np.argsort(term_ids, kind="stable")
        self._passages = passages[by_term]
        self._scores = scores[by_term]
        self._starts = np.concatenate(([0], np.cumsum(self._document_frequency)))

    def __len__(self) -> int:
        return len(self._keys)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` most relevant items as (key, relevance in (0, 1]), best first (by BM25
        score, ties by key)."""
        return [(key, relevance) for key, relevance, _ in self.scored(query)[: max(k, 0)]]

    def scored(self, query: str) -> list[tuple[str, float, float]]:
        """Every item that matches a term of ``query``, as (key, relevance, BM25 score), best
        first (by BM25 score, ties by key)."""
        query_terms = list(dict.fromkeys(terms(query)))
        known = [self._vocabulary[t] for t in query_terms if t in self._vocabulary]
        if not known:
            return []
        unknown = len(query_terms) - len(known)
        weights = self._idf(self._document_frequency[known])
        never_seen = float(self._idf(np.zeros(1, dtype=np.int64))[0])
        ideal = (float(weights.sum()) + unknown * never_seen) / (1 + K1)
        bm25 = np.zeros(len(self._keys), dtype=np.float64)
        for term in known:
            row = slice(self._starts[term], self._starts[term + 1])
            bm25[self._passages[row]] += self._scores[row]
        found = [
            (self._keys[i], min(float(bm25[i]) / ideal, 1.0), float(bm25[i]))
            for i in np.flatnonzero(bm25 > 0)
        ]
        found.sort(key=lambda item: (-item[2], item[0]))
        return found

    def _idf(self, document_frequency: NDArray[np.int64]) -> NDArray[np.float64]:
        # bm25s's Lucene IDF; frequency 0 (a term the documents never use) weighs the most.
        n = len(self._keys)
        return np.log1p((n - document_frequency + 0.5) / (document_frequency + 0.5))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine similarity of two vectors of one length (0 when either is all zeros)."""
    if len(a) != len(b):
        raise ValueError(f"vectors of different lengths ({len(a)} and {len(b)})")
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y) / norms if norms else 0.0


def rank(
    query: str,
    index: LexicalIndex,
    texts: Mapping[str, str],
    *,
    top_k: int = 3,
    min_score: float = 0.0,
    query_embedding: Sequence[float] | None = None,
    embeddings: Mapping[str, Sequence[float]] | None = None,
    semantic_weight: float = 0.5,
) -> list[Passage]:
    """The ``top_k`` best passages for ``query`` with a score of at least ``min_score``, best
    first, ties by key (lexical alone: in BM25 order). Only keys of ``texts`` are returned.

    Lexical alone unless both ``query_embedding`` and ``embeddings`` are given; then hybrid
    (the module's docstring): the candidates are the lexical and the semantic best
    ``max(20, 4 * top_k)``; a candidate without an embedding counts as semantic 0 (and has
    ``semantic`` None)."""
    if not 0.0 <= semantic_weight <= 1.0:
        raise ValueError(f"semantic_weight must be between 0 and 1, not {semantic_weight}")
    if top_k <= 0:
        return []
    scored = [item for item in index.scored(query) if item[0] in texts]
    if query_embedding is None or not embeddings:
        ranked: list[tuple[str, float, float, float | None]] = [
            (key, lexical, lexical, None) for key, lexical, _ in scored
        ]
    else:
        pool = max(20, 4 * top_k)
        relevance = {key: lexical for key, lexical, _ in scored}
        similarity = {
            key: min(max(cosine(query_embedding, vector), 0.0), 1.0)
            for key, vector in embeddings.items()
            if key in texts
        }
        best_semantic = sorted(similarity, key=lambda key: (-similarity[key], key))[:pool]
        candidates = dict.fromkeys([key for key, _, _ in scored[:pool]] + best_semantic)
        w = semantic_weight
        ranked = [
            (
                key,
                (1 - w) * relevance.get(key, 0.0) + w * similarity.get(key, 0.0),
                relevance.get(key, 0.0),
                similarity.get(key),
            )
            for key in candidates
        ]
        ranked.sort(key=lambda item: (-item[1], item[0]))
    kept = [item for item in ranked if item[1] >= min_score and item[1] > 0][:top_k]
    return [
        Passage(key, texts[key], score, lexical, semantic, n)
        for n, (key, score, lexical, semantic) in enumerate(kept, start=1)
    ]
