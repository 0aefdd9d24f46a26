"""The tenant's Twilio account: `PUT`, `GET` and `DELETE /v1/channels/twilio`.

The auth token is sealed before it is stored and never answered: the answer says
`has_auth_token` and the token's fingerprint (unchanged while the token is). The answer also
names the webhook URLs to configure at Twilio, on the gateway's public URL."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field
from servicekit.problems import UNAVAILABLE, FieldError
from servicekit.sealing import Keyring

from trigger_gateway.adapters.channels import ChannelConflict, PhoneNumber, TwilioAccount
from trigger_gateway.domain.channels import TWILIO_AUTH_TOKEN, TwilioAccountSpec, number_id_for
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
MESSAGES_WEBHOOK = "/webhooks/twilio/messages"
STATUS_WEBHOOK = "/webhooks/twilio/status"
VOICE_WEBHOOK = "/webhooks/twilio/voice"
CALL_STATUS_WEBHOOK = "/webhooks/twilio/voice/status"


class PhoneNumberView(BaseModel):
    id: str = Field(description="Stable per tenant and number: what `phoneNumberIds` names.")
    phone_number: str
    whatsapp: bool
    name: str | None = None


class TwilioWebhooks(BaseModel):
    messages: str = Field(description='A number\'s "A message comes in" URL (HTTP POST).')
    status: str = Field(description="The status callback URL of messages sent (HTTP POST).")
    voice: str = Field(description='A number\'s "A call comes in" URL (HTTP POST).')
    voice_status: str = Field(description="A number's call status callback URL (HTTP POST).")


class TwilioAccountView(BaseModel):
    account_sid: str
    has_auth_token: bool
    auth_token_fingerprint: str = Field(
        description="8 hex digits identifying the stored token (never the token)."
    )
    numbers: list[PhoneNumberView]
    webhooks: TwilioWebhooks
    created_at: datetime
    updated_at: datetime


def webhook_urls(gw: Gateway) -> TwilioWebhooks:
    base = gw.settings.public_url.rstrip("/")
    return TwilioWebhooks(
        messages=base + MESSAGES_WEBHOOK,
        status=base + STATUS_WEBHOOK,
        voice=base + VOICE_WEBHOOK,
        voice_status=base + CALL_STATUS_WEBHOOK,
    )


def keyring_of(gw: Gateway) -> Keyring:
    """The KEKs, or 503 when none is configured (nothing can be sealed or opened)."""
    if gw.keyring is None:
        raise ApiProblem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "no key-encryption key is configured (CONNECTFLO_KEKS or CONNECTFLO_KEK_FILE): "
            "secrets can be neither sealed nor opened",
            type_=UNAVAILABLE,
            headers={"Retry-After": "60"},
        )
    return gw.keyring


def _view(gw: Gateway, account: TwilioAccount) -> TwilioAccountView:
    return TwilioAccountView(
        account_sid=account.account_sid,
        has_auth_token=True,
        auth_token_fingerprint=account.auth_token.fingerprint,
        numbers=[
            PhoneNumberView(
                id=n.number_id, phone_number=n.phone_number, whatsapp=n.whatsapp, name=n.name
            )
            for n in account.numbers
        ],
        webhooks=webhook_urls(gw),
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


def _not_connected() -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, "no Twilio account is connected")


@router.put("/twilio", responses=problem_responses(409, *WITH_BODY))
async def connect_twilio(
    body: TwilioAccountSpec, tenant: TenantDep, gw: GatewayDep
) -> TwilioAccountView:
    """Connect the tenant's Twilio account (or change it): its account sid, auth token and
    the numbers customers write to. The numbers listed replace those connected before.
    409 names an account sid or numbers another tenant has connected, or the auth token when
    it is left out but no token of this account sid is stored."""
    keyring = keyring_of(gw)
    current = await gw.twilio.get(tenant)
    if body.auth_token is None and (current is None or current.account_sid != body.account_sid):
        # well-formed, but there is no stored token of this account to keep
        reason = "is required: no token of this account sid is stored to keep"
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            f"body.auth_token {reason}",
            errors=[FieldError(name="body.auth_token", reason=reason)],
        )
    sealed = None
    if body.auth_token is not None:
        sealed = keyring.seal(
            body.auth_token.get_secret_value(), tenant_id=tenant, purpose=TWILIO_AUTH_TOKEN
        )
    numbers = [
        PhoneNumber(
            phone_number=n.phone_number,
            number_id=number_id_for(tenant, n.phone_number),
            tenant_id=tenant,
            whatsapp=n.whatsapp,
            name=n.name,
        )
        for n in body.numbers
    ]
    try:
        account = await gw.twilio.put(tenant, body.account_sid, sealed, numbers)
    except ChannelConflict as conflict:
        raise _conflict(body, conflict) from None
    return _view(gw, account)


def _conflict(body: TwilioAccountSpec, conflict: ChannelConflict) -> ApiProblem:
    errors = []
    if conflict.account_sid:
        errors.append(FieldError(name="body.account_sid", reason="is connected by another tenant"))
    for index, number in enumerate(body.numbers):
        if number.phone_number in conflict.numbers:
            errors.append(
                FieldError(
                    name=f"body.numbers[{index}].phone_number",
                    reason=f"{number.phone_number} is connected by another tenant",
                )
            )
    taken = [conflict.account_sid] if conflict.account_sid else conflict.numbers
    return ApiProblem(
        status.HTTP_409_CONFLICT,
        "connected by another tenant: " + ", ".join(taken),
        errors=errors,
    )


@router.get("/twilio", responses=problem_responses(404))
async def get_twilio(tenant: TenantDep, gw: GatewayDep) -> TwilioAccountView:
    """The connected account: sid, the token's fingerprint (never the token), the numbers
    and their ids, the webhook URLs to configure at Twilio."""
    account = await gw.twilio.get(tenant)
    if account is None:
        raise _not_connected()
    return _view(gw, account)


@router.delete("/twilio", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404))
async def disconnect_twilio(tenant: TenantDep, gw: GatewayDep) -> Response:
    """Forget the account, its token and its numbers: their messages are refused (404)."""
    if not await gw.twilio.delete(tenant):
        raise _not_connected()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
