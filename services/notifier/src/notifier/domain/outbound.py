"""What a request asks to send: the channel, the body, the media and the addresses, read from
the node's rendered request; the addresses a conversation gives when the request names none.
Pure: no I/O.

- Send Reply: ``{channel, message, conversationId}`` (``to``, ``from``, ``mediaUrl`` when the
  request has them); on sms or whatsapp it goes to the customer of the conversation from the
  tenant's number the conversation is with.
- Twilio SMS: ``{integration: "twilio", action: "sendSms", params: {to, body, from?,
  mediaUrl?}}``: sms, or whatsapp when ``to`` is a ``whatsapp:`` address; without ``from``, the
  conversation's tenant number, else the tenant's first connected number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from contracts.events import NotificationRequested

SEND_REPLY = "action.send_reply"
TWILIO_SMS = "integration.twilio_sms"
CHAT_CHANNELS = frozenset({"chat", "web", "widget"})
TWILIO_CHANNELS = frozenset({"sms", "whatsapp"})
WHATSAPP = "whatsapp:"


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    content_type: str | None = None

    def document(self) -> dict[str, Any]:
        return {"url": self.url, "content_type": self.content_type}


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message to a person. ``to``/``from_`` are None until known."""

    channel: str
    body: str
    media: tuple[Media, ...] = ()
    to: str | None = None
    from_: str | None = None

    def addressed(
        self, conversation: Mapping[str, Any] | None, numbers: Sequence[str] = ()
    ) -> Outbound:
        """With the addresses the request left out: the conversation's customer and tenant
        addresses, else (for the sender) the first of the tenant's ``numbers``; WhatsApp
        addresses in Twilio's ``whatsapp:+E164`` form."""
        conversation = conversation or {}
        to = self.to or _text(conversation.get("contact_address"))
        from_ = self.from_ or _text(conversation.get("tenant_address"))
        if from_ is None and numbers:
            from_ = numbers[0]
        if self.channel == "whatsapp":
            to, from_ = _whatsapp(to), _whatsapp(from_)
        return replace(self, to=to, from_=from_)


def outbound_of(request: NotificationRequested) -> Outbound | None:
    """The message ``request`` asks for; None for kinds that send none (tags, End Chat...)."""
    rendered = request.request
    if request.kind == SEND_REPLY:
        return Outbound(
            channel=request.channel,
            body=_text(rendered.get("message")) or "",
            media=_media(rendered),
            to=_text(rendered.get("to")),
            from_=_text(rendered.get("from")),
        )
    if request.kind == TWILIO_SMS:
        params = rendered.get("params")
        params = params if isinstance(params, Mapping) else {}
        to = _text(params.get("to"))
        return Outbound(
            channel="whatsapp" if to and to.startswith(WHATSAPP) else "sms",
            body=_text(params.get("body")) or _text(params.get("message")) or "",
            media=_media(params),
            to=to,
            from_=_text(params.get("from")),
        )
    return None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip() if not isinstance(value, str) else value.strip()
    return text or None


def _whatsapp(address: str | None) -> str | None:
    if address is None or address.startswith(WHATSAPP):
        return address
    return WHATSAPP + address


def _media(rendered: Mapping[str, Any]) -> tuple[Media, ...]:
    """``mediaUrl``/``media_url`` (one URL or a list) and ``media`` ([{url, content_type}])."""
    found: list[Media] = []
    for name in ("mediaUrl", "media_url", "mediaUrls"):
        value = rendered.get(name)
        for url in value if isinstance(value, list) else [value]:
            if _text(url):
                found.append(Media(str(url).strip()))
    media = rendered.get("media")
    for item in media if isinstance(media, list) else []:
        if isinstance(item, Mapping) and _text(item.get("url")):
            content_type = item.get("content_type") or item.get("contentType")
            found.append(Media(str(item["url"]).strip(), _text(content_type)))
    return tuple(found)
