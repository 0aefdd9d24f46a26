"""The tenant's chat widgets: `/v1/channels/widgets` (the tenant's API key).

A tenant may have several widgets (one per site or brand), each with its public key
(``wk_...``, what a page embeds), its allowed origins (CORS for the public widget routes),
whether visitors must be identity-verified, and its signing secret. The secret is random,
answered once (on creation and on rotation), stored sealed and shown afterwards by its
fingerprint only. Rotating it ends every session and stream token signed with the old one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from servicekit.sealing import Keyring, Sealed

from trigger_gateway.adapters.widgets import WIDGET_SECRET, Widget
from trigger_gateway.domain.widget_signing import new_secret, new_widget_key
from trigger_gateway.handlers.channels import keyring_of
from trigger_gateway.handlers.deps import Gateway, GatewayDep, TenantDep
from trigger_gateway.handlers.problems import TENANT_ERRORS, WITH_BODY, problem_responses
from trigger_gateway.handlers.widget_state import WidgetChannelDep, unknown_widget

router = APIRouter(
    prefix="/v1/channels/widgets",
    tags=["chat widget"],
    responses=problem_responses(*TENANT_ERRORS),
)
ANY_ORIGIN = "*"
Origin = Annotated[
    str,
    Field(
        pattern=r"^(\*|https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?)$",
        description="`scheme://host[:port]` as a browser sends it in `Origin` (no path), or "
        "`*` (any)",
        examples=["https://www.example.com"],
    ),
]


def _origins(origins: list[str]) -> list[str]:
    return list(dict.fromkeys(origins))  # each once, in the order given


class WidgetSpec(BaseModel):
    """A new widget."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("Chat", min_length=1, max_length=100)
    allowed_origins: list[Origin] = Field(
        default_factory=list,
        max_length=50,
        description="The sites that may embed it (CORS). The gateway's own origin (its demo "
        "page) is always allowed; a request without `Origin` (a server) is not a browser's.",
    )
    require_identity: bool = Field(
        False,
        strict=True,
        description="Only identity-verified visitors: a session needs the user's "
        "`external_id` and `user_hash` = hex HMAC-SHA256(secret, external_id), computed by "
        "the tenant's backend.",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        return _origins(origins)


class WidgetChange(BaseModel):
    """What to change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    allowed_origins: list[Origin] | None = Field(None, max_length=50)
    require_identity: bool | None = Field(None, strict=True)

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, origins: list[str] | None) -> list[str] | None:
        return None if origins is None else _origins(origins)


class WidgetView(BaseModel):
    widget_key: str = Field(description="Public: what the page embeds.")
    name: str
    allowed_origins: list[str]
    require_identity: bool
    secret_fingerprint: str = Field(
        description="8 hex digits identifying the current secret (never the secret)."
    )
    script_url: str = Field(description="The widget script to embed.")
    demo_url: str = Field(description="A page of the gateway's that embeds this widget.")
    created_at: datetime
    updated_at: datetime


class WidgetWithSecret(WidgetView):
    secret: str = Field(
        description="The signing secret, shown this once: keep it on the tenant's servers "
        "(identity hashes, server-to-server messages); never put it in a page."
    )


class WidgetList(BaseModel):
    widgets: list[WidgetView]


def _view(gw: Gateway, widget: Widget) -> dict[str, Any]:
    base = gw.settings.public_url.rstrip("/")
    return {
        "widget_key": widget.widget_key,
        "name": widget.name,
        "allowed_origins": widget.allowed_origins,
        "require_identity": widget.require_identity,
        "secret_fingerprint": widget.secret.fingerprint,
        "script_url": f"{base}/widget/v1/widget.js",
        "demo_url": f"{base}/widget/demo?key={widget.widget_key}",
        "created_at": widget.created_at,
        "updated_at": widget.updated_at,
    }


def _sealed(keyring: Keyring, tenant: str, secret: str) -> Sealed:
    return keyring.seal(secret, tenant_id=tenant, purpose=WIDGET_SECRET)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*WITH_BODY),
)
async def create_widget(
    spec: WidgetSpec, tenant: TenantDep, gw: GatewayDep, channel: WidgetChannelDep
) -> WidgetWithSecret:
    """A new widget and its signing secret (answered this once)."""
    keyring = keyring_of(gw)
    secret = new_secret()
    widget = await channel.widgets.create(
        tenant,
        new_widget_key(),
        name=spec.name,
        allowed_origins=spec.allowed_origins,
        require_identity=spec.require_identity,
        secret=_sealed(keyring, tenant, secret),
    )
    return WidgetWithSecret(**_view(gw, widget), secret=secret)


@router.get("")
async def list_widgets(tenant: TenantDep, gw: GatewayDep, channel: WidgetChannelDep) -> WidgetList:
    """The tenant's widgets, oldest first."""
    widgets = await channel.widgets.of_tenant(tenant)
    return WidgetList(widgets=[WidgetView(**_view(gw, w)) for w in widgets])


async def _mine(channel: WidgetChannelDep, tenant: str, widget_key: str) -> Widget:
    widget = await channel.widgets.get(widget_key)
    if widget is None or widget.tenant_id != tenant:
        raise unknown_widget(widget_key)
    return widget


@router.get("/{widget_key}", responses=problem_responses(404))
async def get_widget(
    widget_key: str, tenant: TenantDep, gw: GatewayDep, channel: WidgetChannelDep
) -> WidgetView:
    """One widget (the secret's fingerprint, never the secret)."""
    return WidgetView(**_view(gw, await _mine(channel, tenant, widget_key)))


@router.patch("/{widget_key}", responses=problem_responses(404, *WITH_BODY))
async def change_widget(
    widget_key: str,
    change: WidgetChange,
    tenant: TenantDep,
    gw: GatewayDep,
    channel: WidgetChannelDep,
) -> WidgetView:
    """Its name, allowed origins, identity requirement (other gateway processes see a change
    within 5 s)."""
    fields = change.model_dump(exclude_none=True)
    widget = await channel.widgets.update(tenant, widget_key, fields)
    if widget is None:
        raise unknown_widget(widget_key)
    channel.directory.forget(widget_key)
    return WidgetView(**_view(gw, widget))


@router.post("/{widget_key}/secret", responses=problem_responses(404))
async def rotate_secret(
    widget_key: str, tenant: TenantDep, gw: GatewayDep, channel: WidgetChannelDep
) -> WidgetWithSecret:
    """A new signing secret (answered this once): identity hashes, sessions and stream tokens
    made with the old one are refused from now on (within 5 s on other gateway processes)."""
    keyring = keyring_of(gw)
    await _mine(channel, tenant, widget_key)
    secret = new_secret()
    sealed = _sealed(keyring, tenant, secret)
    widget = await channel.widgets.update(tenant, widget_key, {"secret": sealed.to_document()})
    if widget is None:
        raise unknown_widget(widget_key)
    channel.directory.forget(widget_key)
    return WidgetWithSecret(**_view(gw, widget), secret=secret)


@router.delete(
    "/{widget_key}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_widget(widget_key: str, tenant: TenantDep, channel: WidgetChannelDep) -> Response:
    """The widget is gone: its key answers 404 (within 5 s on other gateway processes)."""
    if not await channel.widgets.delete(tenant, widget_key):
        raise unknown_widget(widget_key)
    channel.directory.forget(widget_key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
