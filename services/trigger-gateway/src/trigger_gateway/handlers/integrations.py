"""The tenant's connections to systems of record, used by the integrations service.

`PUT /v1/integrations/{type}` connects (or reconnects) one integration; the integrations
service picks the change up within its cache time (a few seconds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from trigger_gateway.domain.connections import INTEGRATION_TYPES, ConnectionSpec
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/integrations", tags=["integrations"], responses=problem_responses(*TENANT_ERRORS)
)
_NOT_FOUND = problem_responses(404)


class ConnectionView(BaseModel):
    type: str
    mode: str
    base_url: str | None = None
    timeout_seconds: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def _view(doc: dict[str, Any]) -> ConnectionView:
    return ConnectionView.model_validate(doc)


def _known(integration: str) -> str:
    if integration not in INTEGRATION_TYPES:
        raise ApiProblem(
            status.HTTP_404_NOT_FOUND,
            f"unknown integration {integration!r}; known: " + ", ".join(INTEGRATION_TYPES),
        )
    return integration


@router.put("/{integration}", responses=problem_responses(404, *WITH_BODY))
async def connect_integration(
    integration: str, body: ConnectionSpec, tenant: TenantDep, gw: GatewayDep
) -> ConnectionView:
    """Connect `integration` for the tenant: `{"mode": "echo"}` or
    `{"mode": "http", "base_url": "...", "timeout_seconds": 10}`."""
    doc = await gw.connections.put(tenant, _known(integration), body.model_dump())
    return _view(doc)


@router.get("")
async def list_integrations(tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    return {
        "integrations": [_view(d) for d in await gw.connections.list(tenant)],
        "known": list(INTEGRATION_TYPES),
    }


@router.get("/{integration}", responses=_NOT_FOUND)
async def get_integration(integration: str, tenant: TenantDep, gw: GatewayDep) -> ConnectionView:
    doc = await gw.connections.get(tenant, _known(integration))
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"{integration} is not connected")
    return _view(doc)


@router.delete("/{integration}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
async def disconnect_integration(integration: str, tenant: TenantDep, gw: GatewayDep) -> Response:
    if not await gw.connections.delete(tenant, _known(integration)):
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"{integration} is not connected")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
