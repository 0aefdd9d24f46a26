"""A workflow's immutable versions: which exist, when they were published, which one runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from contracts.workflow import definition_of
from fastapi import APIRouter, Path, status
from pydantic import BaseModel

from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.paging import Limit, VersionsCursor, page_of, position
from trigger_gateway.handlers.problems import TENANT_ERRORS, ApiProblem, problem_responses

router = APIRouter(
    prefix="/v1/workflows/{workflow_id}/versions",
    tags=["workflows"],
    responses=problem_responses(*TENANT_ERRORS, 404),
)
MAX_VERSION = 2**31 - 1
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A version (1, 2, ...).")]


class VersionView(BaseModel):
    version: int
    name: str | None
    trigger_type: str | None
    node_count: int | None
    created_at: datetime
    active: bool


class VersionPage(BaseModel):
    workflow_id: str
    is_active: bool
    active_version: int | None
    latest_version: int
    versions: list[VersionView]
    next_cursor: str | None


async def _workflow(gw: GatewayDep, tenant: str, workflow_id: str) -> dict[str, Any]:
    doc = await gw.workflows.get(tenant, workflow_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}")
    return doc


def _is_running_version(workflow: dict[str, Any], version: int) -> bool:
    return bool(workflow["is_active"]) and workflow.get("active_version") == version


@router.get("")
async def list_versions(
    workflow_id: str,
    tenant: TenantDep,
    gw: GatewayDep,
    limit: Limit = 50,
    cursor: VersionsCursor = None,
) -> VersionPage:
    """Newest first; `active` marks the version new executions run."""
    workflow = await _workflow(gw, tenant, workflow_id)
    after = position("versions", cursor, 1)
    docs = await gw.workflows.versions(
        workflow_id, limit=limit + 1, before=None if after is None else int(after[0])
    )
    items, next_cursor = page_of("versions", docs, limit, lambda d: (d["version"],))
    return VersionPage(
        workflow_id=workflow_id,
        is_active=workflow["is_active"],
        active_version=workflow.get("active_version"),
        latest_version=workflow["latest_version"],
        versions=[
            VersionView(
                version=d["version"],
                name=d.get("name"),
                trigger_type=d.get("trigger_type"),
                node_count=d.get("node_count"),
                created_at=d["created_at"],
                active=_is_running_version(workflow, d["version"]),
            )
            for d in items
        ],
        next_cursor=next_cursor,
    )


@router.get("/{version}")
async def get_version(
    workflow_id: str, version: VersionNumber, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    """One version with its definition, exactly as published."""
    workflow = await _workflow(gw, tenant, workflow_id)
    doc = await gw.workflows.version(workflow_id, version)
    if doc is None:
        raise ApiProblem(
            status.HTTP_404_NOT_FOUND, f"workflow {workflow_id} has no version {version}"
        )
    return {
        "workflow_id": workflow_id,
        "version": version,
        "created_at": doc["created_at"],
        "active": _is_running_version(workflow, version),
        "definition": definition_of(doc),
    }
