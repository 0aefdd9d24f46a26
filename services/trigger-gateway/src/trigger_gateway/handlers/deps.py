"""What every route needs: the repositories, the publisher, and the caller's tenant."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, Header, HTTPException, Request, status

from trigger_gateway.adapters.connections import ConnectionRepository
from trigger_gateway.adapters.dead_letters import DeadLetterReadRepository
from trigger_gateway.adapters.history import ExecutionReadRepository
from trigger_gateway.adapters.publisher import KafkaPublisher
from trigger_gateway.adapters.store import TenantRepository, TriggerReceiptRepository
from trigger_gateway.adapters.workflows import WorkflowRepository
from trigger_gateway.domain.api_keys import digest
from trigger_gateway.settings import Settings


@dataclass(frozen=True)
class Gateway:
    settings: Settings
    broker: KafkaPublisher
    tenants: TenantRepository
    workflows: WorkflowRepository
    receipts: TriggerReceiptRepository
    executions: ExecutionReadRepository
    dead_letters: DeadLetterReadRepository
    connections: ConnectionRepository
    executor_http: httpx.AsyncClient


async def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


GatewayDep = Annotated[Gateway, Depends(gateway)]


def api_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request carries: `Authorization: Bearer <key>`, else `X-API-Key`."""
    key = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return key or None


async def tenant_id(
    gw: GatewayDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> str:
    """The tenant whose API key the request carries (`Authorization: Bearer` or `X-API-Key`)."""
    key = api_key(authorization, x_api_key)
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
        )
    tenant = await gw.tenants.tenant_for_key(digest(key))
    if tenant is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown API key")
    return tenant


TenantDep = Annotated[str, Depends(tenant_id)]


@dataclass(frozen=True)
class Caller:
    """Who calls: a tenant (its API key), or the operator (`X-Admin-Token`, every tenant)."""

    tenant_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.tenant_id is None


async def caller(
    gw: GatewayDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
    x_admin_token: Annotated[str | None, Header()] = None,
) -> Caller:
    """The admin when `X-Admin-Token` is sent (and right), otherwise the API key's tenant."""
    if x_admin_token is not None:
        if not secrets.compare_digest(x_admin_token, gw.settings.admin_token):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong X-Admin-Token")
        return Caller(tenant_id=None)
    return Caller(await tenant_id(gw, authorization, x_api_key))


CallerDep = Annotated[Caller, Depends(caller)]
