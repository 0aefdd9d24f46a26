"""`POST /v1/knowledge/search`: the passages of a tenant's documents that answer a question,
by lexical retrieval (BM25 over the current revisions' chunks: no model, no key), what a
Knowledge Search node or an AI node's knowledge tool finds."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from trigger_gateway.domain.knowledge_search import SearchIndex, index_key
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import TENANT_ERRORS, WITH_BODY, problem_responses
from trigger_gateway.handlers.resource_state import (
    Resources,
    ResourcesDep,
    not_found,
    workflow_or_404,
)

router = APIRouter(
    prefix="/v1/knowledge", tags=["knowledge"], responses=problem_responses(*TENANT_ERRORS)
)
DocumentRef = Annotated[str, Field(pattern=r"^doc_[0-9a-f]{24}$")]


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    document_ids: list[DocumentRef] | None = Field(
        None, max_length=500, description="Search these documents (with `workflow_id`'s)."
    )
    workflow_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Search the documents attached to this workflow (with `document_ids`). "
        "Neither given: every document of the tenant.",
    )
    top_k: int = Field(3, ge=1, le=20, description="Passages answered at most.")
    min_score: float = Field(0.0, ge=0.0, le=1.0, description="Passages below are left out.")


class PassageView(BaseModel):
    document_id: str
    title: str
    seq: int = Field(description="The chunk's number in the document.")
    heading: str | None
    text: str
    score: float = Field(description="Relevance, 0 to 1: the share of the question covered.")
    lexical: float


class SearchAnswer(BaseModel):
    passages: list[PassageView]
    searched_documents: int


@router.post("/search", responses=problem_responses(404, *WITH_BODY))
async def search_knowledge(
    body: SearchRequest, tenant: TenantDep, gw: GatewayDep, res: ResourcesDep
) -> SearchAnswer:
    """The best passages for `query`, best first. 404 when a document or the workflow named
    is not the tenant's."""
    wanted: list[str] | None = None
    if body.document_ids is not None or body.workflow_id is not None:
        wanted = list(body.document_ids or [])
        if body.workflow_id is not None:
            await workflow_or_404(gw, tenant, body.workflow_id)
            attached = await res.attachments.get(tenant, body.workflow_id)
            wanted += list((attached or {}).get("document_ids") or [])
    found = await res.documents.revisions(tenant, wanted)
    missing = sorted(set(body.document_ids or ()) - {d["_id"] for d in found})
    if missing:
        raise not_found(f"no document {', '.join(missing)}")
    index = await _index(res, tenant, [(str(d["_id"]), int(d["revision"])) for d in found])
    results = index.search(body.query, top_k=body.top_k, min_score=body.min_score)
    return SearchAnswer(
        passages=[
            PassageView(
                document_id=r.chunk.document_id,
                title=r.chunk.title,
                seq=r.chunk.seq,
                heading=r.chunk.heading,
                text=r.passage.text,
                score=round(r.passage.score, 6),
                lexical=round(r.passage.lexical, 6),
            )
            for r in results
        ],
        searched_documents=len(found),
    )


async def _index(res: Resources, tenant: str, revisions: list[tuple[str, int]]) -> SearchIndex:
    """The index of these revisions' chunks: kept, or built (one read per document:
    FerretDB pushes no `$in` down)."""
    key = index_key(tenant, revisions)
    index = res.indexes.get(key)
    if index is None:
        chunks = await asyncio.gather(
            *(res.documents.chunks(tenant, d, revision) for d, revision in revisions)
        )
        every = [c for per_document in chunks for c in per_document]
        index = await asyncio.to_thread(SearchIndex, every)  # CPU: off the event loop
        res.indexes.put(key, index)
    return index
