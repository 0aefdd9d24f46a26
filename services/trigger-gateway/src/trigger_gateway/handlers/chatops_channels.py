"""The tenant's team chats: `PUT`, `GET` and `DELETE /v1/channels/slack` and
`/v1/channels/teams`.

Secrets are sealed before they are stored and never answered: the Slack bot token is shown by
its fingerprint (`has_bot_token`, `bot_token_fingerprint`), a Teams webhook by its host and the
URL's fingerprint (the URL is what lets anyone post to the channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field
from servicekit.problems import FieldError

from trigger_gateway.adapters.chatops import ChatOpsRepository, SlackConnection, TeamsConnection
from trigger_gateway.adapters.chatops import TeamsWebhook as StoredWebhook
from trigger_gateway.domain.chatops import (
    SLACK_BOT_TOKEN,
    TEAMS_WEBHOOK_URL,
    SlackConnectionSpec,
    TeamsConnectionSpec,
)
from trigger_gateway.domain.webhooks import BadUrl, check_url
from trigger_gateway.handlers.channels import keyring_of
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/channels", tags=["channels"], responses=problem_responses(*TENANT_ERRORS)
)


async def chatops_of(request: Request) -> ChatOpsRepository:
    repository: ChatOpsRepository = request.app.state.chatops
    return repository


ChatOpsDep = Annotated[ChatOpsRepository, Depends(chatops_of)]


class SlackConnectionView(BaseModel):
    has_bot_token: bool
    bot_token_fingerprint: str = Field(
        description="8 hex digits identifying the stored token (never the token)."
    )
    default_channel: str | None
    created_at: datetime
    updated_at: datetime


class TeamsWebhookView(BaseModel):
    name: str
    host: str = Field(description="The URL's host (the URL itself is never answered).")
    url_fingerprint: str = Field(description="8 hex digits identifying the stored URL.")


class TeamsConnectionView(BaseModel):
    webhooks: list[TeamsWebhookView]
    default_webhook: str | None
    created_at: datetime
    updated_at: datetime


def _slack_view(connection: SlackConnection) -> SlackConnectionView:
    return SlackConnectionView(
        has_bot_token=True,
        bot_token_fingerprint=connection.bot_token.fingerprint,
        default_channel=connection.default_channel,
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


def _teams_view(connection: TeamsConnection) -> TeamsConnectionView:
    return TeamsConnectionView(
        webhooks=[
            TeamsWebhookView(name=w.name, host=w.host, url_fingerprint=w.url.fingerprint)
            for w in connection.webhooks
        ],
        default_webhook=connection.default_webhook,
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


def _conflict(name: str, reason: str) -> ApiProblem:
    return ApiProblem(
        status.HTTP_409_CONFLICT, f"{name} {reason}", errors=[FieldError(name=name, reason=reason)]
    )


def _not_connected(what: str) -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, f"no {what} is connected")


@router.put("/slack", responses=problem_responses(409, *WITH_BODY))
async def connect_slack(
    body: SlackConnectionSpec, tenant: TenantDep, gw: GatewayDep, chatops: ChatOpsDep
) -> SlackConnectionView:
    """Connect the tenant's Slack workspace (or change it): the app's bot token and the
    default channel. 409 when the token is left out and none is stored."""
    keyring = keyring_of(gw)
    sealed = None
    if body.bot_token is not None:
        sealed = keyring.seal(
            body.bot_token.get_secret_value(), tenant_id=tenant, purpose=SLACK_BOT_TOKEN
        )
    elif await chatops.slack(tenant) is None:
        raise _conflict("body.bot_token", "is required: no token is stored to keep")
    return _slack_view(await chatops.put_slack(tenant, sealed, body.default_channel))


@router.get("/slack", responses=problem_responses(404))
async def get_slack(tenant: TenantDep, chatops: ChatOpsDep) -> SlackConnectionView:
    """The connected workspace: the token's fingerprint (never the token), the default channel."""
    connection = await chatops.slack(tenant)
    if connection is None:
        raise _not_connected("Slack workspace")
    return _slack_view(connection)


@router.delete("/slack", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404))
async def disconnect_slack(tenant: TenantDep, chatops: ChatOpsDep) -> Response:
    """Forget the token: Slack nodes answer ChannelNotConnected (within the notifier's cache)."""
    if not await chatops.delete_slack(tenant):
        raise _not_connected("Slack workspace")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/teams", responses=problem_responses(409, *WITH_BODY))
async def connect_teams(
    body: TeamsConnectionSpec, tenant: TenantDep, gw: GatewayDep, chatops: ChatOpsDep
) -> TeamsConnectionView:
    """Connect the tenant's Teams incoming webhooks, by name (replacing those stored), and
    the default one. A webhook's URL may be left out to keep the stored URL of that name
    (409 when there is none). URLs must be https (http too where
    WEBHOOK_ALLOW_PRIVATE_URLS allows private addresses, as locally)."""
    keyring = keyring_of(gw)
    allow_private = gw.settings.webhook_allow_private_urls
    stored = await chatops.teams(tenant)
    kept = {w.name: w for w in stored.webhooks} if stored else {}
    webhooks: list[StoredWebhook] = []
    for index, spec in enumerate(body.webhooks):
        field = f"body.webhooks[{index}].url"
        if spec.url is None:
            if spec.name not in kept:
                raise _conflict(field, f"is required: no URL of {spec.name!r} is stored to keep")
            webhooks.append(kept[spec.name])
            continue
        url = spec.url.get_secret_value()
        host = _checked_host(field, url, allow_private=allow_private)
        sealed = keyring.seal(url, tenant_id=tenant, purpose=TEAMS_WEBHOOK_URL)
        webhooks.append(StoredWebhook(spec.name, sealed, host))
    default = body.default_webhook
    if default is None and len(webhooks) == 1:
        default = webhooks[0].name
    return _teams_view(await chatops.put_teams(tenant, webhooks, default))


def _checked_host(field: str, url: str, *, allow_private: bool) -> str:
    """The URL's host, or 422 saying why it is no webhook URL (never echoing the URL)."""
    try:
        check_url(url, allow_private=allow_private)
        if not allow_private and urlsplit(url).scheme != "https":
            raise BadUrl("must be https://")
    except BadUrl as exc:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{field} {exc}",
            errors=[FieldError(name=field, reason=str(exc))],
        ) from None
    return (urlsplit(url).hostname or "").lower()


@router.get("/teams", responses=problem_responses(404))
async def get_teams(tenant: TenantDep, chatops: ChatOpsDep) -> TeamsConnectionView:
    """The connected webhooks: names, hosts and fingerprints (never the URLs)."""
    connection = await chatops.teams(tenant)
    if connection is None:
        raise _not_connected("Teams webhook")
    return _teams_view(connection)


@router.delete("/teams", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404))
async def disconnect_teams(tenant: TenantDep, chatops: ChatOpsDep) -> Response:
    """Forget the webhooks: Teams nodes answer ChannelNotConnected (within the notifier's cache)."""
    if not await chatops.delete_teams(tenant):
        raise _not_connected("Teams webhook")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
