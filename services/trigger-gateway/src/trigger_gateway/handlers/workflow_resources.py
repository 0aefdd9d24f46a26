"""What a workflow has to work with (`/v1/workflow-resources/{workflow_id}`, the spec's
workflow-scoped resources): knowledge-base documents, the tenant's phone numbers, one AI
configuration. An execution starts with them loaded (`resources` in the executor).

The plan limits how many documents and numbers one workflow has (maxDocumentsPerWorkflow,
maxPhoneNumbersPerWorkflow: 409 naming the limit), also under attaches at once. Every change
increments the workflow's `resources_revision`, which the executor caches the loaded
resources by."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from trigger_gateway.adapters.workflow_resources import Change, Full, ListField
from trigger_gateway.domain.plans import LimitReached, allowed
from trigger_gateway.handlers.ai_configs import AIConfigId
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.documents import DocumentId
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    limit_problem,
    problem_responses,
)
from trigger_gateway.handlers.resource_state import (
    Resources,
    ResourcesDep,
    ai_config_or_404,
    document_or_404,
    not_found,
    workflow_or_404,
)

router = APIRouter(
    prefix="/v1/workflow-resources",
    tags=["workflow resources"],
    responses=problem_responses(*TENANT_ERRORS, 404),
)
WorkflowId = Annotated[str, Path(min_length=1, max_length=100, examples=["wf_0123456789abcdef"])]
PhoneNumberId = Annotated[
    str, Path(pattern=r"^pn_[0-9a-f]{24}$", examples=["pn_0123456789abcdef01234567"])
]


class AttachedDocument(BaseModel):
    id: str
    title: str
    assigned_at: datetime | None


class AttachedNumber(BaseModel):
    id: str
    phone_number: str = Field(description="E.164.")
    name: str | None
    assigned_at: datetime | None


class AttachedAIConfig(BaseModel):
    id: str
    name: str
    assigned_at: datetime | None


class ResourceLimits(BaseModel):
    maxDocumentsPerWorkflow: int
    maxPhoneNumbersPerWorkflow: int


class WorkflowResourcesView(BaseModel):
    workflow_id: str
    documents: list[AttachedDocument]
    phone_numbers: list[AttachedNumber]
    ai_config: AttachedAIConfig | None
    limits: ResourceLimits = Field(description="What the tenant's plan allows a workflow.")


_ATTACHED_BEFORE: dict[int | str, dict[str, Any]] = {
    200: {"description": "Attached already: nothing changed", "model": WorkflowResourcesView}
}


async def resources_view(
    res: Resources, tenant: str, workflow_id: str, plan: str
) -> WorkflowResourcesView:
    doc = await res.attachments.get(tenant, workflow_id) or {}
    when = dict(doc.get("assigned_at") or {})
    documents = await asyncio.gather(
        *(res.documents.get(tenant, i) for i in doc.get("document_ids") or [])
    )
    numbers = await asyncio.gather(
        *(res.attachments.phone_number(tenant, i) for i in doc.get("phone_number_ids") or [])
    )
    config_id = doc.get("ai_config_id")
    config = await res.ai_configs.get(tenant, config_id) if config_id else None
    return WorkflowResourcesView(
        workflow_id=workflow_id,
        documents=[
            AttachedDocument(id=d["_id"], title=d["title"], assigned_at=when.get(d["_id"]))
            for d in documents
            if d is not None  # deleted meanwhile
        ],
        phone_numbers=[
            AttachedNumber(
                id=n["number_id"],
                phone_number=n["_id"],
                name=n.get("name"),
                assigned_at=when.get(n["number_id"]),
            )
            for n in numbers
            if n is not None  # released from the tenant's Twilio account
        ],
        ai_config=None
        if config is None
        else AttachedAIConfig(
            id=config["_id"], name=config["name"], assigned_at=when.get(config["_id"])
        ),
        limits=ResourceLimits(
            maxDocumentsPerWorkflow=allowed(plan, "maxDocumentsPerWorkflow"),
            maxPhoneNumbersPerWorkflow=allowed(plan, "maxPhoneNumbersPerWorkflow"),
        ),
    )


@router.get("/{workflow_id}")
async def get_workflow_resources(
    workflow_id: WorkflowId, tenant: TenantDep, gw: GatewayDep, res: ResourcesDep
) -> WorkflowResourcesView:
    """The workflow's documents, phone numbers and AI configuration, and its plan's limits."""
    await workflow_or_404(gw, tenant, workflow_id)
    return await resources_view(res, tenant, workflow_id, await gw.tenants.plan_of(tenant))


async def _attach(
    res: Resources,
    gw: GatewayDep,
    tenant: str,
    workflow_id: str,
    field: ListField,
    limit: str,
    item_id: str,
    response: Response,
) -> WorkflowResourcesView:
    plan = await gw.tenants.plan_of(tenant)
    most = allowed(plan, limit)
    try:
        change = await res.attachments.attach(tenant, workflow_id, field, item_id, most)
    except Full as full:
        raise limit_problem(LimitReached(plan, limit, most, full.current)) from None
    response.status_code = status.HTTP_201_CREATED if change is Change.MADE else status.HTTP_200_OK
    return await resources_view(res, tenant, workflow_id, plan)


@router.post(
    "/{workflow_id}/documents/{document_id}",
    status_code=status.HTTP_201_CREATED,
    responses={**_ATTACHED_BEFORE, **problem_responses(409)},
)
async def attach_document(
    workflow_id: WorkflowId,
    document_id: DocumentId,
    tenant: TenantDep,
    gw: GatewayDep,
    res: ResourcesDep,
    response: Response,
) -> WorkflowResourcesView:
    """Attach a document (201; 200 when it was already). 409 past the plan's
    maxDocumentsPerWorkflow."""
    await workflow_or_404(gw, tenant, workflow_id)
    await document_or_404(res, tenant, document_id)
    return await _attach(
        res,
        gw,
        tenant,
        workflow_id,
        "document_ids",
        "maxDocumentsPerWorkflow",
        document_id,
        response,
    )


@router.delete("/{workflow_id}/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def detach_document(
    workflow_id: WorkflowId,
    document_id: DocumentId,
    tenant: TenantDep,
    gw: GatewayDep,
    res: ResourcesDep,
) -> Response:
    """404 when the document is not attached to the workflow."""
    await workflow_or_404(gw, tenant, workflow_id)
    if not await res.attachments.detach(tenant, workflow_id, "document_ids", document_id):
        raise not_found(f"document {document_id} is not attached to workflow {workflow_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{workflow_id}/phone-numbers/{phone_number_id}",
    status_code=status.HTTP_201_CREATED,
    responses={**_ATTACHED_BEFORE, **problem_responses(409)},
)
async def attach_phone_number(
    workflow_id: WorkflowId,
    phone_number_id: PhoneNumberId,
    tenant: TenantDep,
    gw: GatewayDep,
    res: ResourcesDep,
    response: Response,
) -> WorkflowResourcesView:
    """Attach one of the tenant's phone numbers (its `pn_...` id: `GET /v1/channels/twilio`);
    201, 200 when it was already; 409 past the plan's maxPhoneNumbersPerWorkflow."""
    await workflow_or_404(gw, tenant, workflow_id)
    if await res.attachments.phone_number(tenant, phone_number_id) is None:
        raise not_found(f"no phone number {phone_number_id}")
    return await _attach(
        res,
        gw,
        tenant,
        workflow_id,
        "phone_number_ids",
        "maxPhoneNumbersPerWorkflow",
        phone_number_id,
        response,
    )


@router.delete(
    "/{workflow_id}/phone-numbers/{phone_number_id}", status_code=status.HTTP_204_NO_CONTENT
)
async def detach_phone_number(
    workflow_id: WorkflowId,
    phone_number_id: PhoneNumberId,
    tenant: TenantDep,
    gw: GatewayDep,
    res: ResourcesDep,
) -> Response:
    """404 when the number is not attached to the workflow."""
    await workflow_or_404(gw, tenant, workflow_id)
    if not await res.attachments.detach(tenant, workflow_id, "phone_number_ids", phone_number_id):
        raise not_found(f"phone number {phone_number_id} is not attached to workflow {workflow_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{workflow_id}/ai-config/{ai_config_id}")
async def attach_ai_config(
    workflow_id: WorkflowId,
    ai_config_id: AIConfigId,
    tenant: TenantDep,
    gw: GatewayDep,
    res: ResourcesDep,
) -> WorkflowResourcesView:
    """The workflow's AI configuration (replacing the one before)."""
    await workflow_or_404(gw, tenant, workflow_id)
    await ai_config_or_404(res, tenant, ai_config_id)
    await res.attachments.set_ai_config(tenant, workflow_id, ai_config_id)
    return await resources_view(res, tenant, workflow_id, await gw.tenants.plan_of(tenant))


@router.delete("/{workflow_id}/ai-config", status_code=status.HTTP_204_NO_CONTENT)
async def detach_ai_config(
    workflow_id: WorkflowId, tenant: TenantDep, gw: GatewayDep, res: ResourcesDep
) -> Response:
    """404 when the workflow has no AI configuration attached."""
    await workflow_or_404(gw, tenant, workflow_id)
    if not await res.attachments.clear_ai_config(tenant, workflow_id):
        raise not_found(f"workflow {workflow_id} has no AI configuration attached")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
