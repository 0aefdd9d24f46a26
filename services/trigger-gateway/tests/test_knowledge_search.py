"""`POST /v1/knowledge/search`: lexical retrieval over the current revisions' chunks, with no
key of any provider: the right passage first, scoped to documents or to a workflow's
attached ones, another tenant's never searched, a re-indexed document searched as it is now."""

from __future__ import annotations

from typing import Any

import pytest

SHIPPING = """Shipping

Orders ship within two business days from our warehouse in Lisbon. Express delivery to
Spain and France takes one day."""
RETURNS = """Returns and refunds

You can return any unworn item within 30 days of delivery for a full refund. The refund
reaches your card within five business days after the parcel arrives back."""
WARRANTY = """Warranty

Electronics carry a two-year warranty covering manufacturing defects. Water damage is not
covered."""


async def upload(kb: Any, title: str, text: str, key: str = "key-a") -> str:
    answer = await kb.client.post(
        "/v1/documents",
        json={"title": title, "format": "text", "content": text},
        headers=kb.as_tenant(key),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def search(kb: Any, key: str = "key-a", **body: Any) -> Any:
    return await kb.client.post("/v1/knowledge/search", json=body, headers=kb.as_tenant(key))


@pytest.fixture
async def shop(kb: Any) -> dict[str, str]:
    return {
        "shipping": await upload(kb, "Shipping", SHIPPING),
        "returns": await upload(kb, "Returns", RETURNS),
        "warranty": await upload(kb, "Warranty", WARRANTY),
    }


async def test_the_passage_that_answers_comes_first_without_any_key(kb, shop) -> None:
    answer = await search(kb, query="how many days do I have to get a refund?")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["searched_documents"] == 3
    best = found["passages"][0]
    assert best["document_id"] == shop["returns"] and best["title"] == "Returns"
    assert "30 days" in best["text"] and best["seq"] == 0
    assert best["heading"] == "Returns and refunds"
    assert 0 < best["score"] <= 1 and best["lexical"] == best["score"]
    scores = [p["score"] for p in found["passages"]]
    assert scores == sorted(scores, reverse=True) and len(scores) <= 3


async def test_top_k_and_min_score_bound_the_answer(kb, shop) -> None:
    one = (await search(kb, query="warranty water damage delivery", top_k=1)).json()
    assert [p["document_id"] for p in one["passages"]] == [shop["warranty"]]
    strict = (await search(kb, query="warranty water damage delivery", min_score=1.0)).json()
    assert all(p["score"] >= 1.0 for p in strict["passages"])
    nothing = (await search(kb, query="quantum chromodynamics")).json()
    assert nothing["passages"] == [] and nothing["searched_documents"] == 3


async def test_documents_or_a_workflows_attached_ones_narrow_the_search(
    kb, shop, expect_problem
) -> None:
    only = (await search(kb, query="refund days", document_ids=[shop["shipping"]])).json()
    assert only["searched_documents"] == 1
    assert all(p["document_id"] == shop["shipping"] for p in only["passages"])
    workflow = await kb.workflow()
    attached = await kb.client.post(
        f"/v1/workflow-resources/{workflow}/documents/{shop['warranty']}", headers=kb.as_tenant()
    )
    assert attached.status_code == 201
    scoped = (await search(kb, query="refund warranty", workflow_id=workflow)).json()
    assert scoped["searched_documents"] == 1
    assert {p["document_id"] for p in scoped["passages"]} == {shop["warranty"]}
    both = await search(kb, query="refund", workflow_id=workflow, document_ids=[shop["returns"]])
    assert both.json()["searched_documents"] == 2
    empty = await kb.workflow()
    assert (await search(kb, query="refund", workflow_id=empty)).json() == {
        "passages": [],
        "searched_documents": 0,
    }
    expect_problem(await search(kb, query="refund", workflow_id="wf_unknown"), 404)


async def test_another_tenants_documents_are_neither_searched_nor_found(
    kb, shop, expect_problem
) -> None:
    theirs = await upload(kb, "Secret", "Our refund secret: ninety days for friends.", key="key-b")
    mine = (await search(kb, query="ninety days friends")).json()
    assert theirs not in {p["document_id"] for p in mine["passages"]}
    problem = expect_problem(await search(kb, query="refund", document_ids=[theirs]), 404)
    assert theirs in problem["detail"]
    their_own = (await search(kb, key="key-b", query="ninety days friends")).json()
    assert (
        their_own["searched_documents"] == 1 and their_own["passages"][0]["document_id"] == theirs
    )


async def test_a_reindexed_document_is_searched_as_it_is_now(kb, shop) -> None:
    before = (await search(kb, query="refund days")).json()
    assert "30 days" in before["passages"][0]["text"]
    answer = await kb.client.put(
        f"/v1/documents/{shop['returns']}",
        json={"title": "Returns", "format": "text", "content": "Refunds are given within 60 days."},
        headers=kb.as_tenant(),
    )
    assert answer.status_code == 200
    after = (await search(kb, query="refund days")).json()
    assert "60 days" in after["passages"][0]["text"]
    assert all("30 days" not in p["text"] for p in after["passages"])


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "x" * 2001},
        {"query": "refund", "top_k": 0},
        {"query": "refund", "top_k": 10**12},
        {"query": "refund", "min_score": 1.5},
        {"query": "refund", "document_ids": ["not-an-id"]},
        {"query": "refund", "more": True},
    ],
)
async def test_bad_input_is_422(kb, expect_problem, body) -> None:
    expect_problem(
        await kb.client.post("/v1/knowledge/search", json=body, headers=kb.as_tenant()), 422
    )


@pytest.mark.parametrize("query", ["?!…", "返品 30日", "😀 refund 😀", "the and of"])
async def test_any_text_is_answered(kb, shop, query) -> None:
    answer = await search(kb, query=query)
    assert answer.status_code == 200, answer.text


async def test_the_index_of_a_document_set_is_kept_until_a_revision_changes(kb, shop) -> None:
    cache = kb.gw.client.app.app.state.resources.indexes
    await search(kb, query="refund")
    kept = dict(cache._kept)
    assert len(kept) == 1
    await search(kb, query="warranty")
    assert dict(cache._kept) == kept  # the same index answered
    await kb.client.put(
        f"/v1/documents/{shop['shipping']}",
        json={"title": "Shipping", "format": "text", "content": "We ship daily."},
        headers=kb.as_tenant(),
    )
    await search(kb, query="refund")
    assert len(cache._kept) == 2
