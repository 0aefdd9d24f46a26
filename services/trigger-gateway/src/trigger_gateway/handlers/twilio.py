"""Twilio's Messaging webhooks: incoming SMS and WhatsApp messages, and the status callbacks of
messages sent. No API key (Twilio sends none): each request is verified with the twilio
SDK's ``RequestValidator`` and the auth token of the tenant it is for, found by the number
written to (`To`) or by the `AccountSid` (a status callback). A forged, unsigned or stale
request is 403 and publishes nothing.

The signed URL is the gateway's public URL (``GATEWAY_PUBLIC_URL``) + the path + the query
string as sent, not the URL the request arrived at: behind a TLS-terminating proxy or load
balancer that one says `http://10.0.0.5:8080`, while Twilio signed the URL the tenant
configured, which is the public one (the accounts API answers it). Forwarded headers are not
used: whoever sends the request chooses them.

- `POST /webhooks/twilio/messages`: TriggerReceived (Incoming Message, channel `sms` or
  `whatsapp`), deduplicated by MessageSid (trigger receipts), keyed by the conversation;
  answered with empty TwiML (the workflow replies through the notifier), a duplicate too.
- `POST /webhooks/twilio/status`: DeliveryStatusReported keyed by MessageSid; 204. The
  notifier's StatusCallback names its message in the query (``message_id``): signed with the
  URL, so the report carries it and the notifier finds the message by it.

Kafka or MongoDB not answering is 503 with Retry-After, so a retry (Twilio's connection
overrides, a fallback URL) can deliver it later."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from contracts import Envelope, topics
from contracts.conversations import MESSAGE_ID_PATTERN
from contracts.events import STATUS_CALLBACK_MESSAGE_ID, DeliveryStatusReported
from fastapi import APIRouter, Header, Query, Request, Response, status
from servicekit.problems import INVALID_REQUEST, UNAVAILABLE, FieldError
from servicekit.sealing import SealingError
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped, unused-ignore]

from trigger_gateway.adapters.channels import PhoneNumber, TwilioAccount
from trigger_gateway.domain.channels import ACCOUNT_SID, TWILIO_AUTH_TOKEN, plain_address
from trigger_gateway.domain.input_text import Refused, form_fields
from trigger_gateway.domain.twilio_webhooks import (
    INBOUND_REQUIRED,
    PROVIDER,
    STATUS_REQUIRED,
    inbound_trigger,
    missing,
    status_report,
    too_long_ids,
)
from trigger_gateway.handlers.channels import MESSAGES_WEBHOOK, STATUS_WEBHOOK, keyring_of
from trigger_gateway.handlers.deps import Gateway, GatewayDep
from trigger_gateway.handlers.events import SOURCE, publish_trigger
from trigger_gateway.handlers.problems import ApiProblem, problem_responses
from trigger_gateway.telemetry import attributes, current_trace, tracer

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
INCOMING_MESSAGE = "Incoming Message"  # the builder's label (domain/trigger_types.py)
FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = str(MessagingResponse())
SHARED_KEY_HEADER = "x-twilio-webhooks-signature-settings"

Signature = Annotated[
    str | None,
    Header(
        alias="X-Twilio-Signature",
        description="Twilio's signature of the request (HMAC-SHA1 of the URL and the "
        "parameters with the account's auth token). Without it, or wrong: 403.",
    ),
]
NamedMessage = Annotated[
    str | None,
    Query(
        alias=STATUS_CALLBACK_MESSAGE_ID,
        pattern=MESSAGE_ID_PATTERN,
        description="The outbound message the callback is about, as the notifier named it in "
        "the StatusCallback it gave Twilio (signed with the URL).",
    ),
]


def _form_body(required: tuple[str, ...], extra: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of a webhook: Twilio's parameters, all strings."""
    text = {"type": "string", "maxLength": 1600}
    properties = {name: {"type": "string", "minLength": 1, "maxLength": 64} for name in required}
    properties["AccountSid"] = {"type": "string", "pattern": ACCOUNT_SID}
    schema = {
        "type": "object",
        "required": list(required),
        "properties": {**properties, **{k: {**text, **v} for k, v in extra.items()}},
        "additionalProperties": text,
    }
    return {"requestBody": {"required": True, "content": {FORM: {"schema": schema}}}}


def _responses(ok: int, ok_doc: dict[str, Any], *problems: int) -> dict[int | str, Any]:
    answers: dict[int | str, Any] = {ok: ok_doc, **problem_responses(*problems)}
    answers[403] = {
        **answers[403],
        "description": "X-Twilio-Signature missing or wrong, signed with another account's "
        "token, or for another account: nothing is published",
    }
    return answers


@router.post(
    MESSAGES_WEBHOOK,
    response_class=Response,
    responses=_responses(
        200,
        {
            "description": "Received (or received before): empty TwiML",
            "content": {"text/xml": {"schema": {"type": "string"}}},
        },
        403,
        404,
        413,
        415,
        422,
        503,
    ),
    openapi_extra=_form_body(
        INBOUND_REQUIRED,
        {
            "Body": {},
            "NumMedia": {"pattern": "^[0-9]{1,2}$"},
            "ProfileName": {},
            "WaId": {},
            "MediaUrl0": {},
            "MediaContentType0": {},
        },
    ),
)
async def on_twilio_message(
    request: Request, gw: GatewayDep, signature: Signature = None
) -> Response:
    """Twilio's request for an incoming SMS or WhatsApp message (a number's "A message comes
    in" webhook): an Incoming Message trigger for the tenant whose number was written to."""
    params, number, account = await verified_for_number(gw, request, MESSAGES_WEBHOOK, signature)
    if wrong := missing(params, INBOUND_REQUIRED) + too_long_ids(params):
        raise _invalid(wrong)
    _same_account(params, account)
    inbound = inbound_trigger(params, tenant_id=account.tenant_id, phone_number_id=number.number_id)
    await publish_trigger(
        gw,
        account.tenant_id,
        INCOMING_MESSAGE,
        event_id=inbound.event_id,
        conversation_id=inbound.conversation_id,
        channel=inbound.channel,
        payload=inbound.payload,
        customer=inbound.customer,
        message=inbound.message,
    )
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post(
    STATUS_WEBHOOK,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=_responses(204, {"description": "Reported"}, 403, 404, 413, 415, 422, 503),
    openapi_extra=_form_body(STATUS_REQUIRED, {"ErrorCode": {}, "ErrorMessage": {}}),
)
async def on_twilio_status(
    request: Request, gw: GatewayDep, signature: Signature = None, message_id: NamedMessage = None
) -> Response:
    """Twilio's status callback for a message sent (queued, sent, delivered, undelivered,
    failed, read): a DeliveryStatusReported for the tenant whose account it is, naming the
    message when the URL does (whoever signed it chose that URL: the notifier, for the tenant's
    own message; the notifier checks the message is that tenant's)."""
    pairs = await _signed_form(request, signature)
    params = _first_values(pairs)
    if not params.get("AccountSid") or "AccountSid" in too_long_ids(params):
        raise _invalid(["AccountSid"])
    account, kept = await gw.twilio.for_account_sid(params["AccountSid"])
    verified = False
    if kept and account is not None:
        verified = _signed_by(gw, request, STATUS_WEBHOOK, account, pairs, signature)
        if not verified:  # kept from before a change (a new auth token): as stored now
            account, _ = await gw.twilio.for_account_sid(params["AccountSid"], fresh=True)
    if account is None:
        raise ApiProblem(
            status.HTTP_404_NOT_FOUND, f"no tenant has connected account {params['AccountSid']}"
        )
    if not verified:
        _verify(gw, request, STATUS_WEBHOOK, account, pairs, signature)
    if wrong := missing(params, STATUS_REQUIRED) + too_long_ids(params):
        raise _invalid(wrong)
    report = status_report(params)
    with tracer.start_as_current_span(
        "delivery status", attributes=attributes(tenant_id=account.tenant_id)
    ):
        event = DeliveryStatusReported(
            tenant_id=account.tenant_id,
            provider=PROVIDER,
            provider_message_id=report.message_sid,
            message_id=message_id,
            status=report.status,
            error_code=report.error_code,
            error_message=report.error_message,
            reported_at=datetime.now(UTC),
            event_id=report.event_id,
        )
        envelope = Envelope.wrap(
            event, source=SOURCE, tenant_id=account.tenant_id, **current_trace()
        )
        await gw.broker.publish(
            envelope.body(), topics.DELIVERY_STATUS, report.message_sid.encode(), envelope.headers()
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def verified_for_number(
    gw: Gateway, request: Request, path: str, signature: str | None
) -> tuple[dict[str, str], PhoneNumber, TwilioAccount]:
    """A request for a tenant's number (`To`: messages, calls), verified with that tenant's
    auth token: its parameters, the number and the account (404 for an unknown number, 403
    for a signature that is not Twilio's)."""
    pairs = await _signed_form(request, signature)
    params = _first_values(pairs)
    if not params.get("To"):
        raise _invalid(["To"])
    to = plain_address(params["To"])[0]
    found, kept = await gw.twilio.for_number(to)
    verified = False
    if kept and found is not None:
        verified = _signed_by(gw, request, path, found[1], pairs, signature)
        if not verified:  # kept from before a change (a new auth token, the number moved)
            found, _ = await gw.twilio.for_number(to, fresh=True)
    if found is None:
        raise ApiProblem(
            status.HTTP_404_NOT_FOUND, f"no tenant has connected the number {params['To']}"
        )
    number, account = found
    if not verified:
        _verify(gw, request, path, account, pairs, signature)
    return params, number, account


async def _signed_form(request: Request, signature: str | None) -> list[tuple[str, str]]:
    """The form's parameters of a request that carries a signature (403 if none)."""
    if not signature:
        raise _forbidden("the request has no X-Twilio-Signature")
    if request.headers.get(SHARED_KEY_HEADER):
        # a Webhooks Rule's SharedKey signs instead of the auth token: no such key is stored
        raise _forbidden(
            "the request is signed with a webhook SharedKey; only auth token signatures are "
            "verified here"
        )
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise ApiProblem(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, f"the body must be {FORM}, as Twilio sends"
        )
    try:
        return form_fields(await request.body())
    except Refused as exc:  # the request guard refuses these first
        raise ApiProblem(
            422, f"{exc.name} {exc.reason}", errors=[FieldError(name=exc.name, reason=exc.reason)]
        ) from None


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {name: value for name, value in reversed(pairs)}


def _verify(
    gw: Gateway,
    request: Request,
    path: str,
    account: TwilioAccount,
    pairs: list[tuple[str, str]],
    signature: str | None,
) -> None:
    """403 unless ``signature`` is Twilio's for this account, URL and every parameter."""
    if not _signed_by(gw, request, path, account, pairs, signature):
        raise _forbidden(
            f"X-Twilio-Signature is not the signature of {_signed_url(gw, request, path)} with "
            "these parameters by the auth token of the account this is for"
        )


def _signed_url(gw: Gateway, request: Request, path: str) -> str:
    url = gw.settings.public_url.rstrip("/") + path
    if query := request.scope.get("query_string", b"").decode("latin-1"):
        url += "?" + query
    return url


def _signed_by(
    gw: Gateway,
    request: Request,
    path: str,
    account: TwilioAccount,
    pairs: list[tuple[str, str]],
    signature: str | None,
) -> bool:
    """Whether ``signature`` is Twilio's for this account, URL and every parameter (503 when
    the account's token does not open)."""
    keyring = keyring_of(gw)
    try:
        token = keyring.open(
            account.auth_token, tenant_id=account.tenant_id, purpose=TWILIO_AUTH_TOKEN
        )
    except SealingError as exc:
        log.error("the auth token of tenant %s does not open: %s", account.tenant_id, exc)
        raise ApiProblem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the tenant's stored auth token cannot be opened with the configured keys",
            type_=UNAVAILABLE,
            headers={"Retry-After": "60"},
        ) from None
    url = _signed_url(gw, request, path)
    valid: bool = RequestValidator(token.reveal()).validate(
        url, ImmutableMultiDict(pairs), signature
    )
    return valid


def _same_account(params: dict[str, str], account: TwilioAccount) -> None:
    if params["AccountSid"] != account.account_sid:
        raise _forbidden(
            f"AccountSid {params['AccountSid']} is not the account connected for this number"
        )


def _forbidden(detail: str) -> ApiProblem:
    return ApiProblem(status.HTTP_403_FORBIDDEN, detail)


def _invalid(names: list[str]) -> ApiProblem:
    errors = [
        FieldError(name=f"body.{n}", reason="is required (at most 64 characters)") for n in names
    ]
    return ApiProblem(
        422,
        "missing or malformed Twilio parameters: " + ", ".join(names),
        errors=errors,
        type_=INVALID_REQUEST,
    )
