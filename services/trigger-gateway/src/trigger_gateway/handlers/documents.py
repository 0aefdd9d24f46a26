"""Knowledge-base documents (tenant-scoped): uploaded as text, Markdown, HTML or PDF, their
text extracted and cut into chunks that AI nodes and `POST /v1/knowledge/search` retrieve.

The tenant's plan limits how many documents it has (maxDocuments, 409) and how large each
is (maxDocumentBytes, 413). A re-upload (PUT) re-indexes the document as its next revision;
workflows that attach it load it again (their `resources_revision`)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field
from servicekit.problems import INVALID_REQUEST, FieldError

from trigger_gateway.adapters.documents import new_document_id
from trigger_gateway.domain.documents import (
    DocumentUpload,
    Extracted,
    Format,
    Refusal,
    content_of,
    extract,
    size_of,
)
from trigger_gateway.domain.plans import LimitReached, allowed, check_count
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.paging import (
    ChunksCursor,
    DocumentsCursor,
    Limit,
    page_of,
    position,
    sequence_position,
)
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    limit_problem,
    problem_responses,
)
from trigger_gateway.handlers.resource_state import (
    Resources,
    ResourcesDep,
    document_or_404,
    touch_workflows,
)

router = APIRouter(
    prefix="/v1/documents", tags=["knowledge"], responses=problem_responses(*TENANT_ERRORS)
)
DocumentId = Annotated[
    str, Path(pattern=r"^doc_[0-9a-f]{24}$", examples=["doc_0123456789abcdef01234567"])
]


class DocumentView(BaseModel):
    id: str
    title: str
    format: Format
    bytes: int = Field(description="The content's size (decoded, or a string's UTF-8 bytes).")
    characters: int = Field(description="The extracted text's length.")
    revision: int = Field(description="1, then one more per re-upload.")
    chunk_count: int
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime


class DocumentPage(BaseModel):
    documents: list[DocumentView]
    next_cursor: str | None


class ChunkView(BaseModel):
    seq: int
    text: str
    start: int = Field(description="Where the chunk starts in the document's text.")
    end: int
    heading: str | None


class ChunkPage(BaseModel):
    document_id: str
    revision: int
    chunks: list[ChunkView]
    next_cursor: str | None


def document_view(doc: dict[str, Any]) -> DocumentView:
    return DocumentView(
        id=doc["_id"],
        title=doc["title"],
        format=doc["format"],
        bytes=int(doc.get("bytes") or 0),
        characters=int(doc.get("characters") or 0),
        revision=int(doc["revision"]),
        chunk_count=int(doc.get("chunk_count") or 0),
        metadata=dict(doc.get("metadata") or {}),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


async def _indexed(plan: str, body: DocumentUpload) -> tuple[Extracted, int]:
    """The text and chunks of ``body`` and its size; 413 when ``plan`` does not take a
    document that large, 422 when it cannot be read. Extracting and chunking take CPU
    (a PDF of megabytes: seconds): off the event loop."""
    try:
        content, field = content_of(body)
        size = size_of(content)
        most = allowed(plan, "maxDocumentBytes")
        if size > most:
            reached = LimitReached(plan, "maxDocumentBytes", most, size)
            raise limit_problem(reached, status.HTTP_413_CONTENT_TOO_LARGE)
        return await asyncio.to_thread(extract, body.format, content, field), size
    except Refusal as exc:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{exc.name} {exc.reason}",
            errors=[FieldError(name=exc.name, reason=exc.reason)],
            type_=INVALID_REQUEST,
        ) from None


def _fields(body: DocumentUpload, extracted: Extracted, size: int) -> dict[str, Any]:
    return {
        "title": body.title,
        "format": body.format,
        "text": extracted.text,
        "bytes": size,
        "characters": len(extracted.text),
        "metadata": dict(body.metadata or {}),
    }


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, *WITH_BODY))
async def create_document(
    body: DocumentUpload, tenant: TenantDep, gw: GatewayDep, res: ResourcesDep
) -> DocumentView:
    """Upload a document: its text is extracted and indexed (revision 1). 413 when it is
    larger than the plan's maxDocumentBytes, 409 when the tenant has maxDocuments already,
    422 when it has no text that its format can read."""
    plan = await gw.tenants.plan_of(tenant)
    reached = check_count(plan, "maxDocuments", await res.documents.count(tenant))
    if reached is not None:
        raise limit_problem(reached)
    extracted, size = await _indexed(plan, body)
    doc = {"_id": new_document_id(), "tenant_id": tenant, **_fields(body, extracted, size)}
    return document_view(await res.documents.create(doc, extracted.chunks))


@router.get("")
async def list_documents(
    tenant: TenantDep, res: ResourcesDep, limit: Limit = 50, cursor: DocumentsCursor = None
) -> DocumentPage:
    """The tenant's documents, newest first (without their text)."""
    after = position("documents", cursor, 2)
    docs = await res.documents.page(tenant, limit=limit + 1, after=after)
    items, next_cursor = page_of("documents", docs, limit, lambda d: (d["created_at"], d["_id"]))
    return DocumentPage(documents=[document_view(d) for d in items], next_cursor=next_cursor)


@router.get("/{document_id}", responses=problem_responses(404))
async def get_document(
    document_id: DocumentId, tenant: TenantDep, res: ResourcesDep
) -> DocumentView:
    return document_view(await document_or_404(res, tenant, document_id))


@router.get("/{document_id}/chunks", responses=problem_responses(404))
async def list_chunks(
    document_id: DocumentId,
    tenant: TenantDep,
    res: ResourcesDep,
    limit: Limit = 50,
    cursor: ChunksCursor = None,
) -> ChunkPage:
    """The current revision's chunks, in order."""
    doc = await document_or_404(res, tenant, document_id)
    revision = int(doc["revision"])
    found = await res.documents.chunks(
        tenant,
        document_id,
        revision,
        limit=limit + 1,
        after_seq=sequence_position("chunks", cursor),
    )
    items, next_cursor = page_of("chunks", found, limit, lambda c: (int(c["seq"]),))
    return ChunkPage(
        document_id=document_id,
        revision=revision,
        chunks=[ChunkView.model_validate(c) for c in items],
        next_cursor=next_cursor,
    )


@router.put("/{document_id}", responses=problem_responses(404, *WITH_BODY))
async def replace_document(
    document_id: DocumentId,
    body: DocumentUpload,
    tenant: TenantDep,
    gw: GatewayDep,
    res: ResourcesDep,
) -> DocumentView:
    """Upload the document again (the same body as POST): re-indexed as the next revision,
    its former chunks deleted; workflows attaching it load it again."""
    await document_or_404(res, tenant, document_id)
    extracted, size = await _indexed(await gw.tenants.plan_of(tenant), body)
    doc = await res.documents.reindex(
        tenant, document_id, _fields(body, extracted, size), extracted.chunks
    )
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no document {document_id}")
    await _changed(res, tenant, document_id)
    return document_view(doc)


@router.delete(
    "/{document_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_document(
    document_id: DocumentId, tenant: TenantDep, res: ResourcesDep
) -> Response:
    """The document and its chunks deleted, and detached from every workflow."""
    if not await res.documents.delete(tenant, document_id):
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no document {document_id}")
    await res.attachments.forget(tenant, "document_ids", document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _changed(res: Resources, tenant: str, document_id: str) -> None:
    workflows = await res.attachments.attaching(tenant, "document_ids", document_id)
    await touch_workflows(res, tenant, workflows)
