"""Workflows: save the builder's JSON (validated by the executor's engine), publish new
immutable versions, list, read, activate a version, deactivate."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from contracts.workflow import WorkflowDefinition
from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from trigger_gateway.adapters.workflows import UnknownVersion
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.paging import CursorParam, Limit, page_of, position

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])


class Problem(BaseModel):
    """One finding of the executor's validation; errors block saving."""

    severity: str
    code: str | None = None
    node_id: str | None = None
    label: str | None = None
    field: str | None = None
    edge_id: str | None = None
    message: str

    def __str__(self) -> str:
        where = "workflow" if self.node_id is None else f"node {self.node_id!r}"
        if self.label:
            where += f" ({self.label})"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.message}"


class WorkflowView(BaseModel):
    id: str
    name: str
    trigger_type: str
    version: int = Field(
        description="The version this answer is about: the latest, or the one just published."
    )
    latest_version: int
    active_version: int | None = Field(description="What new executions run when active.")
    is_active: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None
    warnings: list[Problem] = []


class WorkflowPage(BaseModel):
    workflows: list[WorkflowView]
    next_cursor: str | None


class Activation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(default=None, ge=1, description="Default: the latest version.")


async def _validated(gw: GatewayDep, definition: WorkflowDefinition) -> list[Problem]:
    """The executor owns the node catalogue, so it is the one that validates; 422 listing
    every problem when there are errors."""
    try:
        response = await gw.executor_http.post(
            "/v1/workflows/validate", json=definition.model_dump(mode="json")
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow validation unavailable: {exc}"
        ) from None
    problems = [Problem.model_validate(p) for p in response.json()["problems"]]
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "message": "invalid workflow: " + "; ".join(str(p) for p in errors),
                "problems": [p.model_dump() for p in problems],
            },
        )
    return problems


def _view(
    doc: dict[str, Any], warnings: list[Problem] | None = None, version: int | None = None
) -> WorkflowView:
    return WorkflowView(
        id=doc["_id"],
        name=doc["name"],
        trigger_type=doc["trigger_type"],
        version=version or doc["latest_version"],
        latest_version=doc["latest_version"],
        active_version=doc.get("active_version"),
        is_active=doc["is_active"],
        created_at=doc.get("created_at"),
        updated_at=doc.get("updated_at"),
        warnings=warnings or [],
    )


def _not_found(workflow_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_workflow(
    definition: WorkflowDefinition, tenant: TenantDep, gw: GatewayDep
) -> WorkflowView:
    problems = await _validated(gw, definition)
    now = datetime.now(UTC)
    doc = {
        "_id": "wf_" + secrets.token_hex(8),
        "tenant_id": tenant,
        "name": definition.name,
        "trigger_type": definition.triggerType,
        "is_active": False,
        "latest_version": 1,
        "created_at": now,
    }
    await gw.workflows.create(doc, definition.model_dump(mode="json", exclude_none=True))
    return _view(doc, problems)


@router.get("")
async def list_workflows(
    tenant: TenantDep, gw: GatewayDep, limit: Limit = 50, cursor: CursorParam = None
) -> WorkflowPage:
    """The tenant's workflows, newest first."""
    after = position("workflows", cursor, 2)
    docs = await gw.workflows.page(tenant, limit=limit + 1, after=after)
    items, next_cursor = page_of("workflows", docs, limit, lambda d: (d["created_at"], d["_id"]))
    return WorkflowPage(workflows=[_view(d) for d in items], next_cursor=next_cursor)


@router.get("/{workflow_id}")
async def get_workflow(workflow_id: str, tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    """The workflow and its latest version's definition."""
    doc = await gw.workflows.get(tenant, workflow_id)
    if doc is None:
        raise _not_found(workflow_id)
    definition = await gw.workflows.versioned_definition(workflow_id, doc["latest_version"])
    return {**_view(doc).model_dump(exclude={"warnings"}), "definition": definition}


@router.put("/{workflow_id}")
async def publish_workflow(
    workflow_id: str,
    definition: WorkflowDefinition,
    tenant: TenantDep,
    gw: GatewayDep,
    activate: Annotated[
        bool, Query(description="Also make the new version the active one.")
    ] = False,
) -> WorkflowView:
    """Publish the builder's JSON as a new immutable version (latest + 1). Executions that
    already run keep the version they started on; new ones run the active version, which
    changes only through `activate` (or `?activate=true` here)."""
    if await gw.workflows.get(tenant, workflow_id) is None:
        raise _not_found(workflow_id)
    problems = await _validated(gw, definition)
    published = await gw.workflows.publish(
        tenant, workflow_id, definition.model_dump(mode="json", exclude_none=True)
    )
    if published is None:
        raise _not_found(workflow_id)
    doc, version = published
    if activate:
        doc = await gw.workflows.activate(tenant, workflow_id, version) or doc
    return _view(doc, problems, version)


@router.post("/{workflow_id}/activate")
async def activate_workflow(
    workflow_id: str, tenant: TenantDep, gw: GatewayDep, body: Activation | None = None
) -> WorkflowView:
    """New executions run `version` (default: the latest) from now on."""
    version = body.version if body else None
    try:
        doc = await gw.workflows.activate(tenant, workflow_id, version)
    except UnknownVersion as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if doc is None:
        raise _not_found(workflow_id)
    return _view(doc, version=doc["active_version"])


@router.post("/{workflow_id}/deactivate")
async def deactivate_workflow(workflow_id: str, tenant: TenantDep, gw: GatewayDep) -> WorkflowView:
    """Triggers start no new execution; running ones finish on their version."""
    doc = await gw.workflows.deactivate(tenant, workflow_id)
    if doc is None:
        raise _not_found(workflow_id)
    return _view(doc)
