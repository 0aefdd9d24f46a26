"""The tenant's outbound webhooks: `/v1/webhooks` (the tenant's API key).

An endpoint is a URL that receives, as signed JSON POSTs from the notifier, the conversation
events it subscribes to (contracts.webhooks: `message.received`, `message.sent`,
`message.status_updated`, `message.failed`). Its signing secret is made here, answered once
(on creation and on rotation), stored sealed and shown afterwards by its fingerprint only.
`GET .../deliveries` lists what was delivered to it, with every attempt's status and timing;
`POST .../test` sends it a `ping`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from contracts.webhooks import SUBSCRIBABLE, EventType
from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from servicekit.problems import FieldError

from trigger_gateway.adapters.webhooks import WEBHOOK_SECRET, WebhookRepository
from trigger_gateway.domain.webhooks import (
    MAX_URL,
    URL_PATTERN,
    BadUrl,
    check_url,
    new_endpoint_id,
    new_secret,
    ping_delivery,
    ping_event,
)
from trigger_gateway.handlers.channels import keyring_of
from trigger_gateway.handlers.deps import Gateway, GatewayDep, TenantDep
from trigger_gateway.handlers.paging import DeliveriesCursor, Limit, page_of, position
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/webhooks", tags=["webhooks"], responses=problem_responses(*TENANT_ERRORS)
)
Url = Annotated[
    str,
    Field(
        min_length=10,
        max_length=MAX_URL,
        pattern=URL_PATTERN,
        description="Where events are POSTed: http(s), no credentials, no fragment.",
        examples=["https://example.com/connectflo/events"],
    ),
]
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(SUBSCRIBABLE), description="The types it receives."),
]


def _all_types() -> list[EventType]:
    return [*get_args(EventType)]


def _types(types: list[str] | None) -> list[str] | None:
    return None if types is None else list(dict.fromkeys(types))


class WebhookSpec(BaseModel):
    """A new endpoint."""

    model_config = ConfigDict(extra="forbid")
    url: Url
    event_types: EventTypes = Field(default_factory=lambda: _all_types())
    description: str | None = Field(None, min_length=1, max_length=200)
    active: bool = Field(True, strict=True)

    @field_validator("event_types")
    @classmethod
    def _each_once(cls, types: list[str]) -> list[str]:
        return _types(types) or []


class WebhookChange(BaseModel):
    """What to change; fields left out stay as they are. `active: true` re-enables an
    endpoint that was disabled (by a 410 answer)."""

    model_config = ConfigDict(extra="forbid")
    url: Url | None = None
    event_types: EventTypes | None = None
    description: str | None = Field(None, min_length=1, max_length=200)
    active: bool | None = Field(None, strict=True)

    @field_validator("event_types")
    @classmethod
    def _each_once(cls, types: list[str] | None) -> list[str] | None:
        return _types(types)


class WebhookView(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    disabled_reason: str | None = Field(
        description="Why it is inactive when the notifier disabled it (it answered 410)."
    )
    secret_fingerprint: str = Field(
        description="8 hex digits identifying the current secret (never the secret)."
    )
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookView):
    secret: str = Field(
        description="The signing secret, shown this once: X-ConnectFlo-Signature is "
        't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>.'
    )


class WebhookList(BaseModel):
    webhooks: list[WebhookView]


class AttemptView(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None = Field(description="The endpoint's answer; null: none.")
    duration_ms: float
    error: str | None = Field(description="A timeout, a connection error, a refused address.")


class DeliveryView(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    attempt_log: list[AttemptView]
    event: dict[str, Any] = Field(description="The body POSTed.")


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]
    next_cursor: str | None


class PingAccepted(BaseModel):
    delivery_id: str
    event_id: str


async def webhooks_of(request: Request) -> WebhookRepository:
    repository: WebhookRepository = request.app.state.webhooks
    return repository


WebhooksDep = Annotated[WebhookRepository, Depends(webhooks_of)]


def _view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "url": doc["url"],
        "event_types": list(doc.get("event_types") or []),
        "description": doc.get("description"),
        "active": bool(doc.get("active")),
        "disabled_reason": doc.get("disabled_reason"),
        "secret_fingerprint": doc["secret"]["fp"],
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
    }


def _checked_url(gw: Gateway, url: str) -> str:
    try:
        return check_url(url, allow_private=gw.settings.webhook_allow_private_urls)
    except BadUrl as exc:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"body.url {exc}",
            errors=[FieldError(name="body.url", reason=str(exc))],
        ) from None


def _unknown(endpoint_id: str) -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, f"no webhook {endpoint_id}")


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, *WITH_BODY))
async def create_webhook(
    spec: WebhookSpec, tenant: TenantDep, gw: GatewayDep, webhooks: WebhooksDep
) -> WebhookWithSecret:
    """A new endpoint and its signing secret (answered this once). Events that happen from
    now on are delivered to it (within a second). 409 when the tenant has as many endpoints
    as it may (GATEWAY_WEBHOOKS_PER_TENANT)."""
    keyring = keyring_of(gw)
    url = _checked_url(gw, spec.url)
    if await webhooks.count(tenant) >= gw.settings.webhooks_per_tenant:
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            f"a tenant may have {gw.settings.webhooks_per_tenant} webhook endpoints: "
            "delete one first",
        )
    secret = new_secret()
    sealed = keyring.seal(secret, tenant_id=tenant, purpose=WEBHOOK_SECRET)
    doc = await webhooks.create(
        {
            "_id": new_endpoint_id(),
            "tenant_id": tenant,
            "url": url,
            "event_types": spec.event_types,
            "description": spec.description,
            "active": spec.active,
            "disabled_reason": None,
            "secret": sealed.to_document(),
        }
    )
    return WebhookWithSecret(**_view(doc), secret=secret)


@router.get("")
async def list_webhooks(tenant: TenantDep, webhooks: WebhooksDep) -> WebhookList:
    """The tenant's endpoints, oldest first (secrets by fingerprint only)."""
    return WebhookList(webhooks=[WebhookView(**_view(d)) for d in await webhooks.of_tenant(tenant)])


async def _mine(webhooks: WebhookRepository, tenant: str, endpoint_id: str) -> dict[str, Any]:
    doc = await webhooks.get(tenant, endpoint_id)
    if doc is None:
        raise _unknown(endpoint_id)
    return doc


@router.get("/{webhook_id}", responses=problem_responses(404))
async def get_webhook(webhook_id: str, tenant: TenantDep, webhooks: WebhooksDep) -> WebhookView:
    return WebhookView(**_view(await _mine(webhooks, tenant, webhook_id)))


@router.patch("/{webhook_id}", responses=problem_responses(404, *WITH_BODY))
async def change_webhook(
    webhook_id: str,
    change: WebhookChange,
    tenant: TenantDep,
    gw: GatewayDep,
    webhooks: WebhooksDep,
) -> WebhookView:
    """Its URL, event types, description, whether it is active (seen by the notifier within
    a second)."""
    sets = change.model_dump(exclude_none=True)
    if "url" in sets:
        sets["url"] = _checked_url(gw, sets["url"])
    if sets.get("active"):
        sets["disabled_reason"] = None
    doc = await webhooks.update(tenant, webhook_id, sets)
    if doc is None:
        raise _unknown(webhook_id)
    return WebhookView(**_view(doc))


@router.post("/{webhook_id}/secret", responses=problem_responses(404))
async def rotate_webhook_secret(
    webhook_id: str, tenant: TenantDep, gw: GatewayDep, webhooks: WebhooksDep
) -> WebhookWithSecret:
    """A new signing secret (answered this once): attempts from now on (within a second) are
    signed with it, retries of earlier events too."""
    keyring = keyring_of(gw)
    await _mine(webhooks, tenant, webhook_id)
    secret = new_secret()
    sealed = keyring.seal(secret, tenant_id=tenant, purpose=WEBHOOK_SECRET)
    doc = await webhooks.update(tenant, webhook_id, {"secret": sealed.to_document()})
    if doc is None:
        raise _unknown(webhook_id)
    return WebhookWithSecret(**_view(doc), secret=secret)


@router.delete(
    "/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_webhook(webhook_id: str, tenant: TenantDep, webhooks: WebhooksDep) -> Response:
    """The endpoint gets nothing more; its pending deliveries are given up."""
    if not await webhooks.delete(tenant, webhook_id):
        raise _unknown(webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhook_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(404, 409),
)
async def test_webhook(webhook_id: str, tenant: TenantDep, webhooks: WebhooksDep) -> PingAccepted:
    """Send the endpoint a `ping` event (signed, retried like any other); its outcome is in
    `GET .../deliveries`. 409 when the endpoint is not active."""
    endpoint = await _mine(webhooks, tenant, webhook_id)
    if not endpoint.get("active"):
        raise ApiProblem(status.HTTP_409_CONFLICT, f"webhook {webhook_id} is not active")
    now = datetime.now(UTC)
    delivery = ping_delivery(endpoint, ping_event(tenant, webhook_id, now), now)
    await webhooks.add_delivery(delivery)
    return PingAccepted(delivery_id=delivery["_id"], event_id=delivery["event_id"])


@router.get("/{webhook_id}/deliveries", responses=problem_responses(404))
async def list_deliveries(
    webhook_id: str,
    tenant: TenantDep,
    webhooks: WebhooksDep,
    status_: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    limit: Limit = 50,
    cursor: DeliveriesCursor = None,
) -> DeliveryList:
    """What was delivered to the endpoint, newest first: each event with its status, the
    next attempt of a pending one, and every attempt (status code, duration, error)."""
    await _mine(webhooks, tenant, webhook_id)
    after = position("webhook-deliveries", cursor, 2)
    docs = await webhooks.deliveries(
        tenant,
        webhook_id,
        status=status_,
        limit=limit + 1,
        after=after,
    )
    items, next_cursor = page_of(
        "webhook-deliveries", docs, limit, lambda d: (d["created_at"], d["_id"])
    )
    return DeliveryList(deliveries=[_delivery(d) for d in items], next_cursor=next_cursor)


def _delivery(doc: dict[str, Any]) -> DeliveryView:
    return DeliveryView(
        id=doc["_id"],
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        status=doc["status"],
        attempts=int(doc.get("attempts", 0)),
        next_attempt_at=doc.get("next_attempt_at") if doc["status"] == "pending" else None,
        last_status_code=doc.get("last_status_code"),
        last_error=doc.get("last_error"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        delivered_at=doc.get("delivered_at"),
        attempt_log=[AttemptView(**a) for a in doc.get("attempt_log") or []],
        event=json.loads(doc["body"]),
    )
