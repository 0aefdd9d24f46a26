"""SendGrid's webhooks. No API key (SendGrid sends none).

- `POST /webhooks/sendgrid/events`: the Event Webhook, a JSON array of events, verified with
  the sendgrid SDK's `EventWebhook` and the tenant's verification key (the tenant named by
  the URL's `tenant_id`, else by the notifier's custom_args in the first event: a payload that
  verifies with that tenant's key is from its SendGrid account). No signature, a wrong one, or
  a timestamp more than `GATEWAY_SENDGRID_EVENT_WINDOW_SECONDS` away: 403, nothing
  published. Each event is published once (its `sg_event_id` is a trigger receipt) as
  DeliveryStatusReported keyed by the X-Message-Id, naming our message (custom_args); 204.
- `POST /webhooks/sendgrid/inbound/{tenant_id}/{token}`: Inbound Parse (multipart/form-data,
  unsigned): the path's secret must be the tenant's (403 otherwise, nothing published). An
  Incoming Message trigger on channel `email` in the conversation of the message it answers
  (In-Reply-To / References), else the sender's; once per Message-ID; 200.

Kafka or MongoDB not answering: 503 with Retry-After (SendGrid retries)."""

from __future__ import annotations

import asyncio
import binascii
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Annotated

from contracts import Envelope, topics
from contracts.events import DeliveryStatusReported
from cryptography.exceptions import UnsupportedAlgorithm
from fastapi import APIRouter, Header, Query, Request, Response, status
from sendgrid.helpers.eventwebhook import EventWebhook  # type: ignore[import-untyped, unused-ignore]
from servicekit.problems import INVALID_REQUEST, FieldError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from trigger_gateway.adapters.sendgrid_channels import SendGridChannel
from trigger_gateway.domain.inbound_email import (
    CHANNEL,
    Malformed,
    conversation_for,
    customer,
    inbound_message,
    parsed,
    payload,
)
from trigger_gateway.domain.sendgrid_channel import token_digest
from trigger_gateway.domain.sendgrid_events import PROVIDER, EmailReport, reports, tenant_named
from trigger_gateway.handlers.deps import Gateway, GatewayDep
from trigger_gateway.handlers.events import SOURCE, publish_trigger
from trigger_gateway.handlers.problems import ApiProblem, problem_responses
from trigger_gateway.handlers.sendgrid_channel import (
    EVENTS_WEBHOOK,
    INBOUND_WEBHOOK,
    ChannelsDep,
)
from trigger_gateway.telemetry import attributes, current_trace, tracer

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
INCOMING_MESSAGE = "Incoming Message"
MULTIPART = "multipart/form-data"
MAX_FIELDS = 200

Signature = Annotated[
    str | None,
    Header(
        alias="X-Twilio-Email-Event-Webhook-Signature",
        description="SendGrid's ECDSA signature (base64 DER) of the timestamp + the body.",
    ),
]
Timestamp = Annotated[
    str | None, Header(alias="X-Twilio-Email-Event-Webhook-Timestamp", description="Unix time.")
]
TenantNamed = Annotated[
    str | None, Query(max_length=200, description="The tenant, as the channel's URL names it.")
]


def _forbidden(detail: str) -> ApiProblem:
    return ApiProblem(status.HTTP_403_FORBIDDEN, detail)


def _invalid(name: str, reason: str) -> ApiProblem:
    return ApiProblem(
        422,
        f"{name} {reason}",
        errors=[FieldError(name=f"body.{name}", reason=reason)],
        type_=INVALID_REQUEST,
    )


def _verifies(channel: SendGridChannel, raw: str, signature: str, timestamp: str) -> bool:
    key = channel.event_webhook_public_key
    if not key:
        return False
    verifier = EventWebhook()
    try:
        valid: bool = verifier.verify_signature(
            raw, signature, timestamp, verifier.convert_public_key_to_ecdsa(key)
        )
    except (binascii.Error, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return valid


@router.post(
    EVENTS_WEBHOOK,
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        204: {"description": "Recorded (or recorded before)"},
        **problem_responses(403, 413, 415, 422, 503),
    },
)
async def on_sendgrid_events(
    request: Request,
    gw: GatewayDep,
    channels: ChannelsDep,
    signature: Signature = None,
    timestamp: Timestamp = None,
    tenant_id: TenantNamed = None,
) -> Response:
    """SendGrid's Event Webhook: each processed, deferred, delivered, bounce, dropped, open
    and click event as a DeliveryStatusReported for the tenant whose key signed it."""
    if not signature or not timestamp:
        raise _forbidden("the request has no X-Twilio-Email-Event-Webhook-Signature/-Timestamp")
    window = gw.settings.sendgrid_event_window_seconds
    try:
        stale = abs(time.time() - int(timestamp)) > window
    except ValueError:
        stale = True
    if stale:
        raise _forbidden(f"the signature's timestamp is not within {window:g} s of now")
    raw = (await request.body()).decode("utf-8")  # the guard refused invalid UTF-8
    try:
        events = json.loads(raw)
    except ValueError:
        raise _invalid("events", "is not JSON") from None
    tenant = tenant_id or tenant_named(events)
    if not tenant:
        raise _forbidden("no tenant is named (the URL's tenant_id) to verify the signature for")
    channel, kept = await channels.for_webhook(tenant)
    verified = channel is not None and _verifies(channel, raw, signature, timestamp)
    if not verified and kept:  # kept from before a change (a new key)
        channel, _ = await channels.for_webhook(tenant, fresh=True)
        verified = channel is not None and _verifies(channel, raw, signature, timestamp)
    if not verified:
        raise _forbidden(
            "X-Twilio-Email-Event-Webhook-Signature is not the signature of this body and "
            "timestamp by the Event Webhook key of the tenant's SendGrid channel"
        )
    if not isinstance(events, list):
        raise _invalid("events", "must be a JSON array of events")
    found = reports(events, datetime.now(UTC))
    with tracer.start_as_current_span("delivery status", attributes=attributes(tenant_id=tenant)):
        await asyncio.gather(*(_publish_once(gw, tenant, r) for r in found))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _publish_once(gw: Gateway, tenant: str, report: EmailReport) -> None:
    """Published unless its sg_event_id was (a trigger receipt: SendGrid retries repeat it)."""
    earlier = await gw.receipts.record(tenant, report.event_id, "dsr_" + secrets.token_hex(8))
    if earlier is not None and earlier.get("published"):
        return
    event = DeliveryStatusReported(
        tenant_id=tenant,
        provider=PROVIDER,
        provider_message_id=report.provider_message_id,
        message_id=report.message_id,
        status=report.status,
        error_code=report.error_code,
        error_message=report.error_message,
        reported_at=report.at,
        event_id=report.event_id,
    )
    envelope = Envelope.wrap(event, source=SOURCE, tenant_id=tenant, **current_trace())
    await gw.broker.publish(
        envelope.body(),
        topics.DELIVERY_STATUS,
        report.provider_message_id.encode(),
        envelope.headers(),
    )
    await gw.receipts.mark_published(tenant, report.event_id)


@router.post(
    INBOUND_WEBHOOK + "/{tenant_id}/{token}",
    response_class=Response,
    responses={
        200: {"description": "Received (or received before)"},
        **problem_responses(403, 404, 413, 415, 422, 503),
    },
)
async def on_sendgrid_inbound(
    tenant_id: str, token: str, request: Request, gw: GatewayDep, channels: ChannelsDep
) -> Response:
    """SendGrid's Inbound Parse: a customer's email as an Incoming Message on channel
    `email`."""
    channel, _ = await channels.for_webhook(tenant_id)
    if channel is None or not secrets.compare_digest(
        channel.inbound_token_digest, token_digest(token)
    ):
        raise _forbidden("this Inbound Parse URL is not one of a connected SendGrid channel")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != MULTIPART:
        raise ApiProblem(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"the body must be {MULTIPART}, as SendGrid posts",
        )
    fields = await _text_fields(request)
    try:
        email = parsed(fields, channel.inbound_address or channel.from_email)
    except Malformed as exc:
        raise _invalid(exc.field, exc.reason) from None
    threaded = await channels.conversation_answered(tenant_id, email.answered_messages())
    conversation_id = conversation_for(email, tenant_id, threaded)
    await publish_trigger(
        gw,
        tenant_id,
        INCOMING_MESSAGE,
        event_id=email.event_id,
        conversation_id=conversation_id,
        channel=CHANNEL,
        payload=payload(email, conversation_id),
        customer=customer(email),
        message=inbound_message(email),
    )
    return Response(status_code=status.HTTP_200_OK)


async def _text_fields(request: Request) -> dict[str, str]:
    """The post's text fields (files are counted, not read); 422 for a body that is not
    multipart as SendGrid sends it."""
    try:
        async with request.form(max_files=50, max_fields=MAX_FIELDS) as form:
            found: dict[str, str] = {}
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    continue
                if name not in found:
                    found[name] = value
            return found
    except (MultiPartException, StarletteHTTPException) as exc:
        detail = getattr(exc, "message", None) or getattr(exc, "detail", "") or "malformed"
        raise _invalid(
            "form", f"is not multipart/form-data as SendGrid posts it: {detail}"
        ) from None
    except UnicodeDecodeError:
        raise _invalid("form", "is not UTF-8") from None
