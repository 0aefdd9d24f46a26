"""What every route needs: the repositories, the publisher, and the caller's tenant."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Protocol

import httpx
from fastapi import Depends, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPBearer
from servicekit.sealing import Keyring

from trigger_gateway.adapters.channels import TwilioAccountRepository
from trigger_gateway.adapters.connections import ConnectionRepository
from trigger_gateway.adapters.conversations import ContactRepository, ConversationRepository
from trigger_gateway.adapters.dead_letters import DeadLetterReadRepository
from trigger_gateway.adapters.history import ExecutionReadRepository
from trigger_gateway.adapters.store import TenantRepository, TriggerReceiptRepository
from trigger_gateway.adapters.workflows import WorkflowRepository
from trigger_gateway.domain.api_keys import digest
from trigger_gateway.handlers.problems import ApiProblem
from trigger_gateway.settings import Settings


class Broker(Protocol):
    """What the routes use of servicekit's publisher: ``publish`` returns once Kafka has the
    message, or raises servicekit.publisher.Unavailable (answered 503)."""

    async def publish(
        self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None: ...


@dataclass(frozen=True)
class Gateway:
    settings: Settings
    broker: Broker
    tenants: TenantRepository
    workflows: WorkflowRepository
    receipts: TriggerReceiptRepository
    executions: ExecutionReadRepository
    dead_letters: DeadLetterReadRepository
    connections: ConnectionRepository
    executor_http: httpx.AsyncClient
    integrations_http: httpx.AsyncClient  # "check connection" (integrations' internal route)
    conversations: ConversationRepository
    contacts: ContactRepository
    twilio: TwilioAccountRepository
    keyring: Keyring | None  # None: no KEK configured, nothing sealed can be opened


async def gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


GatewayDep = Annotated[Gateway, Depends(gateway)]


# Declared for OpenAPI (securitySchemes, and `security` on every operation that needs them);
# the key itself is read by one rule, `api_key`, here and in the trigger ingress.
BEARER = HTTPBearer(
    scheme_name="BearerApiKey",
    description="The tenant's API key: `Authorization: Bearer <key>`.",
    auto_error=False,
)
API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKeyHeader",
    description="The tenant's API key, when `Authorization` cannot be used.",
    auto_error=False,
)
ADMIN_TOKEN = APIKeyHeader(
    name="X-Admin-Token",
    scheme_name="AdminToken",
    description="The operator's token (GATEWAY_ADMIN_TOKEN): tenant creation, every tenant's "
    "dead letters.",
    auto_error=False,
)


def api_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request carries: `Authorization: Bearer <key>`, else `X-API-Key`."""
    key = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return key or None


def is_admin_token(sent: str, settings: Settings) -> bool:
    """Compared as bytes: `secrets.compare_digest` refuses non-ASCII text (a 500 before)."""
    return secrets.compare_digest(sent.encode("latin-1"), settings.admin_token.encode())


def unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(status.HTTP_401_UNAUTHORIZED, detail)


async def _tenant_of(request: Request, gw: Gateway) -> str:
    key = api_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if not key:
        raise unauthorized(
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    tenant = await gw.tenants.tenant_for_key(digest(key))
    if tenant is None:
        raise unauthorized("unknown API key")
    return tenant


async def tenant_id(
    request: Request,
    gw: GatewayDep,
    _bearer: Annotated[object, Security(BEARER)],
    _header: Annotated[object, Security(API_KEY_HEADER)],
) -> str:
    """The tenant whose API key the request carries (`Authorization: Bearer` or `X-API-Key`)."""
    return await _tenant_of(request, gw)


TenantDep = Annotated[str, Depends(tenant_id)]


async def admin(gw: GatewayDep, token: Annotated[str | None, Security(ADMIN_TOKEN)]) -> None:
    """Only the operator (`X-Admin-Token`)."""
    if not token or not is_admin_token(token, gw.settings):
        raise unauthorized("missing or wrong X-Admin-Token")


AdminDep = Annotated[None, Depends(admin)]


@dataclass(frozen=True)
class Caller:
    """Who calls: a tenant (its API key), or the operator (`X-Admin-Token`, every tenant)."""

    tenant_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.tenant_id is None


async def caller(
    request: Request,
    gw: GatewayDep,
    _bearer: Annotated[object, Security(BEARER)],
    _header: Annotated[object, Security(API_KEY_HEADER)],
    x_admin_token: Annotated[str | None, Security(ADMIN_TOKEN)],
) -> Caller:
    """The admin when `X-Admin-Token` is sent (and right), otherwise the API key's tenant."""
    if x_admin_token is not None:
        if not is_admin_token(x_admin_token, gw.settings):
            raise unauthorized("wrong X-Admin-Token")
        return Caller(tenant_id=None)
    return Caller(await _tenant_of(request, gw))


CallerDep = Annotated[Caller, Depends(caller)]
