"""The tenant's SendGrid channel: `PUT`, `GET` and `DELETE /v1/channels/sendgrid`.

The API key is sealed before it is stored and never answered: the answer says `has_api_key`
and its fingerprint. The answer names the two webhook URLs to configure at SendGrid: the Event
Webhook's (HTTP POST, signed) and Inbound Parse's for the reply host, whose path holds a
per-tenant secret (Inbound Parse signs nothing: the secret is what proves a post is SendGrid's
for this tenant)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field
from servicekit.problems import FieldError

from trigger_gateway.adapters.sendgrid_channels import SendGridChannel, SendGridChannelRepository
from trigger_gateway.domain.sendgrid_channel import (
    SENDGRID_API_KEY,
    SENDGRID_INBOUND_TOKEN,
    SendGridChannelSpec,
    token_digest,
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
    prefix="/v1/channels", tags=["channels"], responses=problem_responses(*TENANT_ERRORS)
)
EVENTS_WEBHOOK = "/webhooks/sendgrid/events"
INBOUND_WEBHOOK = "/webhooks/sendgrid/inbound"


def sendgrid_channels(request: Request) -> SendGridChannelRepository:
    channels: SendGridChannelRepository = request.app.state.sendgrid
    return channels


ChannelsDep = Annotated[SendGridChannelRepository, Depends(sendgrid_channels)]


class SendGridWebhooks(BaseModel):
    events: str = Field(description="The Event Webhook's HTTP POST URL (turn signing on).")
    inbound_parse: str = Field(
        description="Inbound Parse's destination URL for the reply host. It holds a secret: "
        "keep it like a password."
    )


class SendGridChannelView(BaseModel):
    has_api_key: bool
    api_key_fingerprint: str = Field(description="8 hex digits identifying the stored key.")
    from_email: str
    from_name: str | None
    event_webhook_public_key: str | None
    inbound_address: str | None
    webhooks: SendGridWebhooks
    created_at: datetime
    updated_at: datetime


def _view(gw: Gateway, channel: SendGridChannel) -> SendGridChannelView:
    token = keyring_of(gw).open(
        channel.inbound_token, tenant_id=channel.tenant_id, purpose=SENDGRID_INBOUND_TOKEN
    )
    base = gw.settings.public_url.rstrip("/")
    tenant = quote(channel.tenant_id, safe="")
    return SendGridChannelView(
        has_api_key=True,
        api_key_fingerprint=channel.api_key.fingerprint,
        from_email=channel.from_email,
        from_name=channel.from_name,
        event_webhook_public_key=channel.event_webhook_public_key,
        inbound_address=channel.inbound_address,
        webhooks=SendGridWebhooks(
            events=f"{base}{EVENTS_WEBHOOK}?tenant_id={tenant}",
            inbound_parse=f"{base}{INBOUND_WEBHOOK}/{tenant}/{token.reveal()}",
        ),
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def _not_connected() -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, "no SendGrid channel is connected")


@router.put("/sendgrid", responses=problem_responses(409, *WITH_BODY))
async def connect_sendgrid(
    body: SendGridChannelSpec, tenant: TenantDep, gw: GatewayDep, channels: ChannelsDep
) -> SendGridChannelView:
    """Connect the tenant's SendGrid account (or change it): API key, sender, the Event
    Webhook's verification key, the address replies go to. 409 when the API key is left out
    and none is stored."""
    keyring = keyring_of(gw)
    current = await channels.get(tenant)
    if body.api_key is None and current is None:
        reason = "is required: no API key is stored to keep"
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            f"body.api_key {reason}",
            errors=[FieldError(name="body.api_key", reason=reason)],
        )
    sealed = None
    if body.api_key is not None:
        sealed = keyring.seal(
            body.api_key.get_secret_value(), tenant_id=tenant, purpose=SENDGRID_API_KEY
        )
    token = None
    if current is None:
        secret = secrets.token_urlsafe(24)
        token = (
            token_digest(secret),
            keyring.seal(secret, tenant_id=tenant, purpose=SENDGRID_INBOUND_TOKEN),
        )
    fields = body.model_dump(exclude={"api_key"})
    channel = await channels.put(tenant, fields, api_key=sealed, inbound_token=token)
    return _view(gw, channel)


@router.get("/sendgrid", responses=problem_responses(404))
async def get_sendgrid(
    tenant: TenantDep, gw: GatewayDep, channels: ChannelsDep
) -> SendGridChannelView:
    """The connected channel: the key's fingerprint (never the key), the sender, the
    webhook URLs to configure at SendGrid."""
    channel = await channels.get(tenant)
    if channel is None:
        raise _not_connected()
    return _view(gw, channel)


@router.delete(
    "/sendgrid", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def disconnect_sendgrid(tenant: TenantDep, channels: ChannelsDep) -> Response:
    """Forget the channel: its key, and the Inbound Parse URL's secret (posts to it: 403)."""
    if not await channels.delete(tenant):
        raise _not_connected()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
