"""The tenant's connections to systems of record: `/v1/connections` (the spec's Integration
model), and which ones a workflow uses: `/v1/workflows/{id}/connections`.

Credentials are sealed here (servicekit.sealing, for the one connection) and never answered:
a connection shows which credential fields it holds and their fingerprint. Only the
integrations service opens them; `POST /v1/connections/{id}/check` asks it to make the
provider's cheap read. The integrations service sees a change within its cache time
(INTEGRATIONS_CONNECTION_CACHE_SECONDS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from contracts.connections import CONNECTION_TYPES, Limits, credentials_purpose
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from servicekit.problems import UNAVAILABLE, FieldError
from servicekit.sealing import Keyring, Sealed

from trigger_gateway.adapters.connections import NameTaken, new_connection_id
from trigger_gateway.domain.connections import (
    ConnectionPatch,
    ConnectionSpec,
    Mode,
    config_problem,
    status_of,
)
from trigger_gateway.handlers.channels import keyring_of
from trigger_gateway.handlers.deps import Gateway, GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/connections", tags=["connections"], responses=problem_responses(*TENANT_ERRORS)
)
workflow_router = APIRouter(
    prefix="/v1/workflows", tags=["connections"], responses=problem_responses(*TENANT_ERRORS)
)
Document = dict[str, Any]
ConnectionId = Annotated[
    str, Field(pattern=r"^con_[0-9a-f]{16}$", examples=["con_0123456789abcdef"])
]


class CredentialsView(BaseModel):
    fields: list[str] = Field(description="The credential fields stored (never their values).")
    fingerprint: str = Field(description="8 hex digits: unchanged while the credentials are.")


class CheckView(BaseModel):
    ok: bool
    checked_at: datetime
    result: dict[str, Any] | None = Field(None, description="What the provider answered.")
    error: dict[str, Any] | None = Field(None, description="The typed error, when not ok.")


class ConnectionView(BaseModel):
    id: str
    type: str
    name: str
    mode: Mode
    config: dict[str, Any]
    credentials: CredentialsView | None
    is_default: bool
    is_active: bool
    status: str = Field(description="connected, pending (no credentials yet) or broken.")
    broken_reason: str | None = None
    limits: Limits | None = None
    last_check: CheckView | None = None
    created_at: datetime
    updated_at: datetime


class TypeView(BaseModel):
    type: str
    auth: list[str]
    oauth: bool


class ConnectionList(BaseModel):
    connections: list[ConnectionView]
    types: list[TypeView] = Field(description="Every type a connection may have.")


class WorkflowConnections(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connections: dict[str, str] = Field(
        description="Type -> the connection (id or name) the workflow's nodes of that type use "
        "unless a node names its own.",
        examples=[{"stripe": "Live account", "shopify": "con_0123456789abcdef"}],
        max_length=len(CONNECTION_TYPES),
    )


def connection_view(doc: Document) -> ConnectionView:
    sealed = doc.get("credentials")
    credentials = None
    if sealed:
        credentials = CredentialsView(
            fields=list(doc.get("credential_fields") or []),
            fingerprint=Sealed.from_document(sealed).fingerprint,
        )
    return ConnectionView(
        id=doc["_id"],
        type=doc["type"],
        name=doc["name"],
        mode=doc.get("mode", "provider"),
        config=doc.get("config") or {},
        credentials=credentials,
        is_default=bool(doc.get("is_default")),
        is_active=bool(doc.get("is_active", True)),
        status=doc.get("status", "connected"),
        broken_reason=doc.get("broken_reason"),
        limits=doc.get("limits"),
        last_check=doc.get("last_check"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def _sealed(keyring: Keyring, tenant: str, connection_id: str, creds: BaseModel) -> Document:
    values = creds.model_dump(exclude_none=True)
    sealed = keyring.seal(
        json.dumps(values), tenant_id=tenant, purpose=credentials_purpose(connection_id)
    )
    return {"credentials": sealed.to_document(), "credential_fields": sorted(values)}


def _name_taken(name: str) -> ApiProblem:
    reason = f"is taken: the tenant has a connection named {name!r}"
    return ApiProblem(
        status.HTTP_409_CONFLICT,
        f"body.name {reason}",
        errors=[FieldError(name="body.name", reason=reason)],
    )


async def connection_or_404(gw: Gateway, tenant: str, connection_id: str) -> Document:
    doc = await gw.connections.get(tenant, connection_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no connection {connection_id!r}")
    return doc


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, *WITH_BODY),
)
async def create_connection(
    body: ConnectionSpec, tenant: TenantDep, gw: GatewayDep
) -> ConnectionView:
    """Connect a system of record. Credentials are write-only; a provider connection without
    them is `pending` until they are given (PATCH, or the OAuth flow). 409 when the name is
    taken."""
    spec: Any = body
    connection_id = new_connection_id()
    doc: Document = {
        "_id": connection_id,
        "tenant_id": tenant,
        "type": spec.type,
        "name": spec.name,
        "mode": spec.mode,
        "config": {} if spec.config is None else spec.config.model_dump(exclude_none=True),
        "is_default": spec.is_default,
        "is_active": spec.is_active,
        "status": status_of(spec.mode, spec.credentials is not None),
    }
    if spec.limits is not None:
        doc["limits"] = spec.limits.model_dump(exclude_none=True)
    if spec.credentials is not None:
        doc |= _sealed(keyring_of(gw), tenant, connection_id, spec.credentials)
    try:
        return connection_view(await gw.connections.create(doc))
    except NameTaken:
        raise _name_taken(spec.name) from None


@router.get("")
async def list_connections(
    tenant: TenantDep,
    gw: GatewayDep,
    type: Annotated[str | None, Query(max_length=40, description="Only this type.")] = None,
) -> ConnectionList:
    return ConnectionList(
        connections=[connection_view(d) for d in await gw.connections.list(tenant, type)],
        types=[
            TypeView(type=t.name, auth=list(t.auth), oauth=t.oauth)
            for t in CONNECTION_TYPES.values()
        ],
    )


@router.get("/{connection_id}", responses=problem_responses(404))
async def get_connection(
    connection_id: ConnectionId, tenant: TenantDep, gw: GatewayDep
) -> ConnectionView:
    return connection_view(await connection_or_404(gw, tenant, connection_id))


@router.patch("/{connection_id}", responses=problem_responses(404, 409, *WITH_BODY))
async def update_connection(
    connection_id: ConnectionId,
    body: ConnectionPatch,
    tenant: TenantDep,
    gw: GatewayDep,
) -> ConnectionView:
    """Change a connection: the fields given replace the stored ones (`config` and
    `credentials` as a whole; `"is_active": false` disables it). `type` says which shapes
    apply and must be the connection's. New credentials clear a `broken` status."""
    patch: Any = body
    current = await connection_or_404(gw, tenant, connection_id)
    if patch.type != current["type"]:
        reason = f"is {current['type']!r}: a connection's type does not change"
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            f"body.type {reason}",
            errors=[FieldError(name="body.type", reason=reason)],
        )
    changes: Document = {
        field: getattr(patch, field)
        for field in ("name", "mode", "is_default", "is_active")
        if getattr(patch, field) is not None
    }
    if patch.config is not None:
        changes["config"] = patch.config.model_dump(exclude_none=True)
    if patch.limits is not None:
        changes["limits"] = patch.limits.model_dump(exclude_none=True)
    mode = str(changes.get("mode", current.get("mode", "provider")))
    config = patch.config
    if config is None and current.get("config"):
        config = CONNECTION_TYPES[current["type"]].config.model_validate(current["config"])
    problem = config_problem(current["type"], mode, config, whole=True)
    if problem:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"body.config: {problem}",
            errors=[FieldError(name="body.config", reason=problem)],
        )
    unset: tuple[str, ...] = ()
    has_credentials = bool(current.get("credentials"))
    if patch.credentials is not None:
        changes |= _sealed(keyring_of(gw), tenant, connection_id, patch.credentials)
        has_credentials = True
        unset = ("broken_reason", "token_expires_at")  # given by hand: no OAuth expiry known
    if patch.credentials is not None or "mode" in changes or current.get("status") != "broken":
        changes["status"] = status_of(mode, has_credentials)
    try:
        doc = await gw.connections.update(tenant, connection_id, changes, unset)
    except NameTaken:
        raise _name_taken(changes["name"]) from None
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no connection {connection_id!r}")
    return connection_view(doc)


@router.delete(
    "/{connection_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_connection(
    connection_id: ConnectionId, tenant: TenantDep, gw: GatewayDep
) -> Response:
    """Delete it (its sealed credentials with it); workflows assigned it fall back to the
    tenant's default."""
    if await gw.connections.delete(tenant, connection_id) is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no connection {connection_id!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{connection_id}/check", responses=problem_responses(404))
async def check_connection(
    connection_id: ConnectionId, tenant: TenantDep, gw: GatewayDep
) -> CheckView:
    """ "Check connection": the integrations service makes the provider's cheap read (the
    account, the shop, the current user) with the stored credentials. `ok: false` with the
    typed error when it fails (Unauthorized: the credentials are refused); 503 when the
    integrations service cannot be reached."""
    await connection_or_404(gw, tenant, connection_id)
    try:
        response = await gw.integrations_http.post(
            f"/internal/tenants/{tenant}/connections/{connection_id}/check"
        )
        response.raise_for_status()
        answer = response.json()
    except (httpx.HTTPError, ValueError):
        raise ApiProblem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the integrations service did not answer the check; try again",
            type_=UNAVAILABLE,
            headers={"Retry-After": "5"},
        ) from None
    check = CheckView(
        ok=bool(answer.get("ok")),
        checked_at=datetime.now(UTC),
        result=answer.get("result"),
        error=answer.get("error"),
    )
    await gw.connections.record_check(tenant, connection_id, check.model_dump(exclude={"result"}))
    return check


@workflow_router.put(
    "/{workflow_id}/connections", responses=problem_responses(404, 409, *WITH_BODY)
)
async def assign_connections(
    workflow_id: str, body: WorkflowConnections, tenant: TenantDep, gw: GatewayDep
) -> WorkflowConnections:
    """Which connection of each type the workflow uses (replacing the former choice). Each must
    be the tenant's and of that type (409 otherwise); the answer names them by id."""
    if await gw.workflows.get(tenant, workflow_id) is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"workflow {workflow_id!r} not found")
    chosen: dict[str, str] = {}
    errors = []
    for type_name, ref in body.connections.items():
        doc = await gw.connections.find(tenant, ref)
        name = f"body.connections.{type_name}"
        if type_name not in CONNECTION_TYPES:
            errors.append(FieldError(name=name, reason=f"{type_name!r} is not a connection type"))
        elif doc is None:
            errors.append(FieldError(name=name, reason=f"no connection {ref!r}"))
        elif doc["type"] != type_name:
            errors.append(FieldError(name=name, reason=f"{ref!r} is a {doc['type']} connection"))
        else:
            chosen[type_name] = doc["_id"]
    if errors:
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            "; ".join(f"{e.name} {e.reason}" for e in errors),
            errors=errors,
        )
    await gw.connections.assign(tenant, workflow_id, chosen)
    return WorkflowConnections(connections=chosen)


@workflow_router.get("/{workflow_id}/connections", responses=problem_responses(404))
async def workflow_connections(
    workflow_id: str, tenant: TenantDep, gw: GatewayDep
) -> WorkflowConnections:
    if await gw.workflows.get(tenant, workflow_id) is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"workflow {workflow_id!r} not found")
    return WorkflowConnections(connections=await gw.connections.assigned(tenant, workflow_id))
