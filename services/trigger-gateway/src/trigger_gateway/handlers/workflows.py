"""Workflows: save the builder's JSON (validated by the executor's engine), read, activate."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import httpx
from contracts.workflow import WorkflowDefinition
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from trigger_gateway.handlers.deps import GatewayDep, TenantDep

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


class WorkflowSaved(BaseModel):
    id: str
    name: str
    trigger_type: str
    version: int
    is_active: bool
    warnings: list[Problem]


async def _validate(gw: GatewayDep, definition: WorkflowDefinition) -> list[Problem]:
    """The executor owns the node catalogue, so it is the one that validates."""
    try:
        response = await gw.executor_http.post(
            "/v1/workflows/validate", json=definition.model_dump(mode="json")
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow validation unavailable: {exc}"
        ) from None
    return [Problem.model_validate(p) for p in response.json()["problems"]]


def _view(doc: dict[str, Any], warnings: list[Problem] | None = None) -> WorkflowSaved:
    return WorkflowSaved(
        id=doc["_id"],
        name=doc["name"],
        trigger_type=doc["trigger_type"],
        version=doc["latest_version"],
        is_active=doc["is_active"],
        warnings=warnings or [],
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_workflow(
    definition: WorkflowDefinition, tenant: TenantDep, gw: GatewayDep
) -> WorkflowSaved:
    problems = await _validate(gw, definition)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "message": "invalid workflow: " + "; ".join(str(p) for p in errors),
                "problems": [p.model_dump() for p in problems],
            },
        )
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


@router.get("/{workflow_id}")
async def get_workflow(workflow_id: str, tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    doc = await gw.workflows.get(tenant, workflow_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}")
    definition = await gw.workflows.versioned_definition(workflow_id, doc["latest_version"])
    return {**_view(doc).model_dump(exclude={"warnings"}), "definition": definition}


@router.post("/{workflow_id}/activate")
async def activate_workflow(workflow_id: str, tenant: TenantDep, gw: GatewayDep) -> WorkflowSaved:
    doc = await gw.workflows.activate(tenant, workflow_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}")
    return _view(doc)
