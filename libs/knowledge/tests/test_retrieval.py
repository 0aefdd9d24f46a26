import time

import bm25s
import numpy as np
import pytest
from knowledge.chunking import chunk_text
from knowledge.documents import text_of
from knowledge.retrieval import LexicalIndex, Passage, cosine, rank, terms
from knowledge.samples import sample_documents

SHOP = [
    ("returns", "You can return unused items within 60 days of delivery for a refund."),
    ("shipping", "Standard shipping costs $6.95 and is free on orders of $75 or more."),
    ("gift", "Gift cards never expire and can be used online and in our stores."),
    ("hours", "Our Denver store opens at 9 am from Monday to Saturday."),
    ("klarna", "Pay in four instalments with Klarna on orders between $35 and $1,000."),
]


@pytest.fixture(scope="module")
def help_centre() -> tuple[LexicalIndex, dict[str, str]]:
    items = [
        (f"{name}#{c.seq}", c.text)
        for name, format, content in sample_documents()
        for c in chunk_text(text_of(format, content))
    ]
    return LexicalIndex(items), dict(items)


def test_the_relevant_item_comes_first_with_a_relevance_in_0_1() -> None:
    index = LexicalIndex(SHOP)
    found = index.search("how long do I have to return an item?", k=3)
    assert found[0][0] == "returns"
    assert all(0 < relevance <= 1 for _, relevance in found)
    assert [r for _, r in found] == sorted((r for _, r in found), reverse=True)


def test_scores_are_bm25s_scores() -> None:
    index = LexicalIndex(SHOP)
    reference = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    reference.index([terms(text) for _, text in SHOP], show_progress=False)
    query = "free shipping on orders in the store"
    expected = sum(reference.get_scores([t]) for t in dict.fromkeys(terms(query)))
    got = {key: bm25 for key, _, bm25 in index.scored(query)}
    assert np.allclose([got.get(key, 0.0) for key, _ in SHOP], expected, atol=1e-5)


def test_an_unrelated_question_is_far_less_relevant(
    help_centre: tuple[LexicalIndex, dict[str, str]],
) -> None:
    index, _ = help_centre
    related = index.search("how long does a refund take to reach my card", k=1)[0][1]
    unrelated = index.search("what is the best price for a house in Paris", k=1)
    assert related > 0.6
    assert unrelated == [] or unrelated[0][1] < related / 2
    assert index.search("what is the capital of France", k=3) == []


def test_queries_without_known_terms_and_small_indexes() -> None:
    assert LexicalIndex([]).search("refund", k=3) == []
    one = LexicalIndex([("only", "Refunds take five business days.")])
    assert one.search("refunds", k=3) == [("only", 1.0)]
    assert one.search("the and of", k=3) == []  # stopwords only
    assert one.search("refund my kayak", k=3)[0][1] < 0.5  # "kayak": never seen, weighs most
    assert LexicalIndex([("empty", ""), ("stop", "the and of")]).search("the", k=1) == []
    assert LexicalIndex(SHOP).search("refund", k=0) == []


def test_building_is_cheap() -> None:
    items = [(f"{n}-{key}", f"{text} Item number {n}.") for n in range(60) for key, text in SHOP]
    LexicalIndex(items)
    started = time.perf_counter()
    LexicalIndex(items)
    assert time.perf_counter() - started < 0.1


def test_rank_is_lexical_without_embeddings() -> None:
    index, texts = LexicalIndex(SHOP), dict(SHOP)
    passages = rank("are gift cards usable in stores", index, texts, top_k=2)
    assert passages[0] == Passage(
        "gift", texts["gift"], passages[0].lexical, passages[0].lexical, None, 1
    )
    assert [p.rank for p in passages] == [1, 2]
    assert rank("gift cards in stores", index, texts, min_score=1.01) == []
    assert [p.key for p in rank("gift cards", index, {"returns": "r"})] == []  # keys of texts only


def test_an_embedding_changes_the_order() -> None:
    index, texts = LexicalIndex(SHOP), dict(SHOP)
    query = "when is the store open on saturday, can I pay in instalments"
    lexical = rank(query, index, texts, top_k=5)
    embeddings = {key: [1.0, 0.0] if key == "klarna" else [0.0, 1.0] for key, _ in SHOP}
    hybrid = rank(query, index, texts, top_k=5, query_embedding=[1.0, 0.1], embeddings=embeddings)
    assert lexical[0].key == "hours"
    assert hybrid[0].key == "klarna"
    klarna = hybrid[0]
    assert klarna.semantic == pytest.approx(cosine([1.0, 0.1], [1.0, 0.0]))
    assert klarna.score == pytest.approx(0.5 * klarna.lexical + 0.5 * klarna.semantic)
    # a passage found by its embedding alone is a candidate too
    only_semantic = rank("zzz", index, texts, query_embedding=[1.0, 0.0], embeddings=embeddings)
    assert [(p.key, p.lexical) for p in only_semantic[:1]] == [("klarna", 0.0)]


def test_ties_are_broken_by_key() -> None:
    items = [("b", "refund policy"), ("a", "refund policy"), ("c", "refund policy")]
    assert [p.key for p in rank("refund", LexicalIndex(items), dict(items))] == ["a", "b", "c"]


def test_cosine() -> None:
    assert cosine([1.0, 0.0], [0.0, 2.0]) == 0.0
    assert cosine([1.0, 1.0], [2.0, 2.0]) == pytest.approx(1.0)
    assert cosine([0.0, 0.0], [1.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="different lengths"):
        cosine([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="semantic_weight"):
        rank("x", LexicalIndex(SHOP), dict(SHOP), semantic_weight=1.5)
