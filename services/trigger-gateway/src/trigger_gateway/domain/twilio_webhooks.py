"""What Twilio's Messaging webhooks say, as the engine reads it. Pure: no I/O, no clock.

- An incoming SMS or WhatsApp message (``To``, ``From``, ``Body``, ``MessageSid``,
  ``NumMedia`` with ``MediaUrl{N}``/``MediaContentType{N}``, for WhatsApp ``ProfileName`` and
  ``WaId``) becomes an Incoming Message trigger: its conversation (tenant, channel, customer's
  number, tenant's number), what the workflow reads as ``trigger.*``, the customer, and the
  message for the conversation's log.
- A status callback (``MessageSid``, ``MessageStatus``, ``ErrorCode``) becomes a delivery
  status report; its event id is unique per (message, status), so a retried callback is
  recognisable downstream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.events import InboundMessage, MediaItem

from trigger_gateway.domain.channels import plain_address
from trigger_gateway.domain.conversation_keys import conversation_id_for

PROVIDER = "twilio"
INBOUND_REQUIRED = ("MessageSid", "AccountSid", "From", "To")
STATUS_REQUIRED = ("MessageSid", "MessageStatus", "AccountSid")
MAX_MEDIA = 10  # Twilio's limit per message
MAX_ID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class InboundTrigger:
    event_id: str
    conversation_id: str
    channel: str
    payload: dict[str, Any]
    customer: dict[str, Any]
    message: InboundMessage


@dataclass(frozen=True, slots=True)
class StatusReport:
    event_id: str
    message_sid: str
    status: str
    error_code: str | None
    error_message: str | None


def missing(params: Mapping[str, str], required: tuple[str, ...]) -> list[str]:
    """The required parameters that are absent or empty."""
    return [name for name in required if not params.get(name)]


def too_long_ids(params: Mapping[str, str]) -> list[str]:
    """Ids Twilio keeps short (34 characters); anything much longer is not Twilio's."""
    return [n for n in ("MessageSid", "AccountSid") if len(params.get(n, "")) > MAX_ID_LENGTH]


def inbound_trigger(
    params: Mapping[str, str], *, tenant_id: str, phone_number_id: str
) -> InboundTrigger:
    """``params``: an incoming message webhook's parameters (``INBOUND_REQUIRED`` present)."""
    contact, from_whatsapp = plain_address(params["From"])
    tenant_number, to_whatsapp = plain_address(params["To"])
    channel = "whatsapp" if to_whatsapp or from_whatsapp else "sms"
    conversation_id = conversation_id_for(tenant_id, channel, contact, tenant_number)
    media = media_of(params)
    payload: dict[str, Any] = {
        "text": params.get("Body", ""),
        "from": contact,
        "to": tenant_number,
        "channel": channel,
        "conversationId": conversation_id,
        "messageSid": params["MessageSid"],
        "accountSid": params["AccountSid"],
        "phoneNumberId": phone_number_id,
        "numMedia": len(media),
        "media": [{"url": m.url, "contentType": m.content_type} for m in media],
        "provider": PROVIDER,
    }
    if channel == "whatsapp":
        payload.update(
            {
                k: params[v]
                for k, v in (("profileName", "ProfileName"), ("waId", "WaId"))
                if v in params
            }
        )
    return InboundTrigger(
        event_id=f"{PROVIDER}:{params['MessageSid']}",
        conversation_id=conversation_id,
        channel=channel,
        payload=payload,
        customer={"phone": contact},
        message=InboundMessage(
            contact_address=contact,
            tenant_address=tenant_number,
            body=params.get("Body", ""),
            media=media,
            provider=PROVIDER,
            provider_message_id=params["MessageSid"],
        ),
    )


def media_of(params: Mapping[str, str]) -> list[MediaItem]:
    """``MediaUrl0``... as many as ``NumMedia`` says and are there (at most ``MAX_MEDIA``)."""
    try:
        count = min(int(params.get("NumMedia") or 0), MAX_MEDIA)
    except ValueError:
        count = MAX_MEDIA
    return [
        MediaItem(url=params[f"MediaUrl{i}"], content_type=params.get(f"MediaContentType{i}"))
        for i in range(count)
        if params.get(f"MediaUrl{i}")
    ]


def status_report(params: Mapping[str, str]) -> StatusReport:
    """``params``: a status callback's parameters (``STATUS_REQUIRED`` present)."""
    sid, status = params["MessageSid"], params["MessageStatus"]
    return StatusReport(
        event_id=f"{PROVIDER}:{sid}:{status}",
        message_sid=sid,
        status=status,
        error_code=params.get("ErrorCode") or None,
        error_message=params.get("ErrorMessage") or None,
    )
