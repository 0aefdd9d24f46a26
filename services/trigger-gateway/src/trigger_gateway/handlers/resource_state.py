"""What the routes of AI and knowledge resources share (documents, search, AI configurations,
classification, workflow resources, the plan): the repositories, assembled on the database
(``assemble``), the kept search indexes, and the lookups that answer 404."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from contracts.ai import CLASSIFICATION
from fastapi import Depends, Request, status
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid

from trigger_gateway.adapters.ai_settings import AIConfigRepository, ClassificationRepository
from trigger_gateway.adapters.documents import DocumentRepository
from trigger_gateway.adapters.locks import LOCKS, Locks
from trigger_gateway.adapters.workflow_resources import WorkflowResourceRepository
from trigger_gateway.domain.knowledge_search import IndexCache
from trigger_gateway.handlers.deps import Gateway
from trigger_gateway.handlers.problems import ApiProblem

Document = dict[str, Any]
# Written by requests at once, read by _id: created at start-up (FerretDB creates a collection
# under its metadata lock, which must not happen under load)
_PLAIN_COLLECTIONS = (LOCKS, CLASSIFICATION)


@dataclass(frozen=True)
class Resources:
    documents: DocumentRepository
    ai_configs: AIConfigRepository
    classification: ClassificationRepository
    attachments: WorkflowResourceRepository
    indexes: IndexCache


def resources_on(db: AsyncDatabase[Document], locks: Locks | None = None) -> Resources:
    locks = locks or Locks(db)
    return Resources(
        documents=DocumentRepository(db, locks),
        ai_configs=AIConfigRepository(db, locks),
        classification=ClassificationRepository(db, locks),
        attachments=WorkflowResourceRepository(db, locks),
        indexes=IndexCache(),
    )


async def assemble(db: AsyncDatabase[Document]) -> Resources:
    """The repositories, their indexes and the collections written under load."""
    existing = set(await db.list_collection_names())
    for name in _PLAIN_COLLECTIONS:
        if name not in existing:
            with contextlib.suppress(CollectionInvalid):  # another replica made it meanwhile
                await db.create_collection(name)
    resources = resources_on(db)
    await resources.documents.ensure_indexes()
    await resources.ai_configs.ensure_indexes()
    await resources.attachments.ensure_indexes()
    return resources


async def resources(request: Request) -> Resources:
    found: Resources = request.app.state.resources
    return found


ResourcesDep = Annotated[Resources, Depends(resources)]


def not_found(detail: str) -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, detail)


async def workflow_or_404(gw: Gateway, tenant: str, workflow_id: str) -> Document:
    doc = await gw.workflows.get(tenant, workflow_id)
    if doc is None:
        raise not_found(f"no workflow {workflow_id}")
    return doc


async def document_or_404(res: Resources, tenant: str, document_id: str) -> Document:
    doc = await res.documents.get(tenant, document_id)
    if doc is None:
        raise not_found(f"no document {document_id}")
    return doc


async def ai_config_or_404(res: Resources, tenant: str, config_id: str) -> Document:
    doc = await res.ai_configs.get(tenant, config_id)
    if doc is None:
        raise not_found(f"no AI configuration {config_id}")
    return doc


async def touch_workflows(res: Resources, tenant: str, workflow_ids: Iterable[str]) -> None:
    """What these workflows have attached changed: each one's `resources_revision` up."""
    for workflow_id in workflow_ids:
        await res.attachments.touch(tenant, workflow_id)
