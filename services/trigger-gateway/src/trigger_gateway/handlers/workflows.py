"""Workflows: save the builder's JSON (validated by the executor's engine), publish new
immutable versions, list, read, activate a version, deactivate."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from contracts.workflow import WorkflowDefinition
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from servicekit.problems import INVALID_REQUEST, INVALID_WORKFLOW, FieldError

from trigger_gateway.adapters.workflows import UnknownVersion
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.paging import Limit, WorkflowsCursor, page_of, position
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)
from trigger_gateway.handlers.versions import MAX_VERSION

router = APIRouter(
    prefix="/v1/workflows", tags=["workflows"], responses=problem_responses(*TENANT_ERRORS)
)
_NOT_FOUND = problem_responses(404)
_VALIDATED = problem_responses(*WITH_BODY)  # and 422 naming each bad node, 503 (the executor)


class Finding(BaseModel):
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
    warnings: list[Finding] = []


class WorkflowPage(BaseModel):
    workflows: list[WorkflowView]
    next_cursor: str | None


def _whole_number(value: object) -> object:
    """A JSON integer (2, or 2.0 as JSON Schema counts it), never true, "2" or 2.5."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


class Activation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[int, Field(ge=1, le=MAX_VERSION), BeforeValidator(_whole_number)] | None = (
        Field(default=None, description="Default: the latest version.")
    )


async def _validated(gw: GatewayDep, definition: WorkflowDefinition) -> list[Finding]:
    """The executor owns the node catalogue, so it is the one that validates; 422 naming
    every error (its node, and the config field) when there are errors."""
    try:
        response = await gw.executor_http.post(
            "/v1/workflows/validate", json=definition.model_dump(mode="json")
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ApiProblem(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow validation unavailable: {exc!r}"
        ) from None
    findings = [Finding.model_validate(p) for p in response.json()["problems"]]
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "invalid workflow: " + "; ".join(str(f) for f in errors),
            errors=[_named(definition, f) for f in errors],
            type_=INVALID_WORKFLOW,
        )
    return findings


def _named(definition: WorkflowDefinition, finding: Finding) -> FieldError:
    """Where in the body: `body.nodes[3].config.operator`, `body.edges[1]`, or `body`."""
    name = "body"
    nodes = [n.id for n in definition.nodes]
    edges = [e.id for e in definition.edges]
    if finding.node_id in nodes:
        name = f"body.nodes[{nodes.index(finding.node_id)}]"
        if finding.field:
            field = finding.field.removeprefix("config").lstrip(".")
            name += ".config" + (f".{field}" if field else "")
    elif finding.edge_id in edges:
        name = f"body.edges[{edges.index(finding.edge_id)}]"
    return FieldError(name=name, reason=finding.message, node_id=finding.node_id)


def _view(
    doc: dict[str, Any], warnings: list[Finding] | None = None, version: int | None = None
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


def _not_found(workflow_id: str) -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}")


@router.post("", status_code=status.HTTP_201_CREATED, responses=_VALIDATED)
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
    tenant: TenantDep, gw: GatewayDep, limit: Limit = 50, cursor: WorkflowsCursor = None
) -> WorkflowPage:
    """The tenant's workflows, newest first."""
    after = position("workflows", cursor, 2)
    docs = await gw.workflows.page(tenant, limit=limit + 1, after=after)
    items, next_cursor = page_of("workflows", docs, limit, lambda d: (d["created_at"], d["_id"]))
    return WorkflowPage(workflows=[_view(d) for d in items], next_cursor=next_cursor)


@router.get("/{workflow_id}", responses=_NOT_FOUND)
async def get_workflow(workflow_id: str, tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    """The workflow and its latest version's definition."""
    doc = await gw.workflows.get(tenant, workflow_id)
    if doc is None:
        raise _not_found(workflow_id)
    definition = await gw.workflows.versioned_definition(workflow_id, doc["latest_version"])
    return {**_view(doc).model_dump(exclude={"warnings"}), "definition": definition}


@router.put("/{workflow_id}", responses={**_VALIDATED, **_NOT_FOUND})
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


@router.post("/{workflow_id}/activate", responses={**_NOT_FOUND, **problem_responses(413)})
async def activate_workflow(
    workflow_id: str, tenant: TenantDep, gw: GatewayDep, body: Activation | None = None
) -> WorkflowView:
    """New executions run `version` (default: the latest) from now on."""
    version = body.version if body else None
    try:
        doc = await gw.workflows.activate(tenant, workflow_id, version)
    except UnknownVersion as exc:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            str(exc),
            errors=[FieldError(name="body.version", reason=str(exc))],
            type_=INVALID_REQUEST,
        ) from None
    if doc is None:
        raise _not_found(workflow_id)
    return _view(doc, version=doc["active_version"])


@router.post("/{workflow_id}/deactivate", responses=_NOT_FOUND)
async def deactivate_workflow(workflow_id: str, tenant: TenantDep, gw: GatewayDep) -> WorkflowView:
    """Triggers start no new execution; running ones finish on their version."""
    doc = await gw.workflows.deactivate(tenant, workflow_id)
    if doc is None:
        raise _not_found(workflow_id)
    return _view(doc)
