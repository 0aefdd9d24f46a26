"""A customer's email as SendGrid's Inbound Parse posts it (multipart/form-data: ``headers``,
``from``, ``to``, ``cc``, ``subject``, ``text``, ``html``, ``envelope``, ``charsets``, ``SPF``,
``dkim``, ``attachments`` with ``attachment-info``), as the engine reads it: an Incoming
Message trigger on channel ``email``. Pure: no I/O.

- **Threading.** Our outbound emails carry a Message-ID naming their message
  (``<msg_...@host>``, notifier.domain.email); a reply names it in In-Reply-To or References,
  so ``answered_messages`` gives the message ids to look up (the conversation is theirs).
  Otherwise the conversation is keyed by (tenant, email, sender, the tenant's address).
- **Deduplication** by the email's Message-ID (a retried post repeats it).
- **Body**: the text part with the quoted thread below the reply removed (email_reply_parser:
  "On ... wrote:" and ``>`` lines), else the HTML part's text. Attachments are kept as media
  metadata (name and type: their bytes are not stored)."""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any

from contracts.events import InboundMessage, MediaItem
from email_reply_parser import EmailReplyParser  # type: ignore[import-untyped, unused-ignore]

from trigger_gateway.domain.conversation_keys import conversation_id_for

PROVIDER = "sendgrid"
CHANNEL = "email"
REQUIRED = ("from",)
MAX_ATTACHMENTS = 20
MAX_BODY = 64 * 1024
OUR_MESSAGE_ID = re.compile(r"<(msg_[0-9a-f]{24})(?:\.[^@>]*)?@[^>]+>")
_TAG = re.compile(r"<[^>]+>")


class Malformed(ValueError):
    """The post is not an email Inbound Parse would send: ``field`` names what."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field} {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class InboundEmail:
    message_id: str | None  # the Message-ID header, with its <>
    in_reply_to: str | None
    references: list[str]
    sender: str  # lower-cased address
    sender_name: str | None
    to: str  # the tenant's address it was sent to
    cc: list[str]
    subject: str
    text: str  # the reply, without the quoted thread
    full_text: str
    html: str | None
    attachments: list[MediaItem]
    spf: str | None
    dkim: str | None

    @property
    def event_id(self) -> str:
        """The receipt's: the Message-ID, else a digest of what the email says."""
        key = self.message_id or json.dumps([self.sender, self.to, self.subject, self.full_text])
        return f"{PROVIDER}:" + hashlib.sha256(key.encode()).hexdigest()[:32]

    def answered_messages(self) -> list[str]:
        """Our message ids named by In-Reply-To, then References (nearest first)."""
        named = [self.in_reply_to or "", *reversed(self.references)]
        found: list[str] = []
        for header in named:
            for match in OUR_MESSAGE_ID.finditer(header):
                if match.group(1) not in found:
                    found.append(match.group(1))
        return found


def parsed(fields: Mapping[str, str], tenant_address: str | None) -> InboundEmail:
    """``fields``: the post's text fields. ``tenant_address``: the channel's inbound address
    (the recipient taken when the email was sent to several)."""
    for name in REQUIRED:
        if not fields.get(name):
            raise Malformed(name, "is required")
    for name, value in fields.items():
        if "\x00" in value:
            raise Malformed(name, "contains a NUL character")
    headers = HeaderParser().parsestr(fields.get("headers", ""))
    name, sender = parseaddr(fields["from"])
    if "@" not in sender:
        raise Malformed("from", "names no email address")
    recipients = [a.lower() for _, a in getaddresses([fields.get("to", "")]) if "@" in a]
    recipients += _envelope_to(fields.get("envelope"))
    if not recipients:
        raise Malformed("to", "names no email address")
    to = (
        tenant_address.lower()
        if tenant_address and tenant_address.lower() in recipients
        else (recipients[0])
    )
    full_text = fields.get("text", "")[:MAX_BODY]
    body = fields.get("html")
    text = EmailReplyParser.parse_reply(full_text).strip() if full_text.strip() else ""
    if not text and body:
        text = html.unescape(_TAG.sub(" ", body)).strip()[:MAX_BODY]
    return InboundEmail(
        message_id=_header(headers.get("Message-ID")),
        in_reply_to=_header(headers.get("In-Reply-To")),
        references=(_header(headers.get("References")) or "").split(),
        sender=sender.lower(),
        sender_name=name or None,
        to=to,
        cc=[a.lower() for _, a in getaddresses([fields.get("cc", "")]) if "@" in a],
        subject=fields.get("subject", "")[:1000],
        text=text,
        full_text=full_text,
        html=body,
        attachments=_attachments(fields),
        spf=fields.get("SPF"),
        dkim=fields.get("dkim"),
    )


def inbound_message(email: InboundEmail) -> InboundMessage:
    return InboundMessage(
        contact_address=email.sender,
        tenant_address=email.to,
        body=email.text,
        media=email.attachments,
        provider=PROVIDER,
        provider_message_id=email.message_id,
        subject=email.subject or None,
    )


def conversation_for(email: InboundEmail, tenant_id: str, threaded: str | None) -> str:
    """The conversation of the message the email answers, else the sender's with the tenant."""
    return threaded or conversation_id_for(tenant_id, CHANNEL, email.sender, email.to)


def payload(email: InboundEmail, conversation_id: str) -> dict[str, Any]:
    """What the workflow reads as ``trigger.*``."""
    return {
        "text": email.text,
        "subject": email.subject,
        "from": email.sender,
        "fromName": email.sender_name,
        "to": email.to,
        "cc": email.cc,
        "channel": CHANNEL,
        "conversationId": conversation_id,
        "messageId": email.message_id,
        "inReplyTo": email.in_reply_to,
        "numMedia": len(email.attachments),
        "media": [{"url": m.url, "contentType": m.content_type} for m in email.attachments],
        "spf": email.spf,
        "provider": PROVIDER,
    }


def customer(email: InboundEmail) -> dict[str, Any]:
    found: dict[str, Any] = {"email": email.sender}
    if email.sender_name:
        found["name"] = email.sender_name
    return found


def _header(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return text[:2000] or None


def _envelope_to(envelope: str | None) -> list[str]:
    try:
        to = json.loads(envelope or "{}").get("to") or []
    except (ValueError, AttributeError):
        raise Malformed("envelope", "is not SendGrid's JSON envelope") from None
    return [str(a).lower() for a in to if isinstance(a, str) and "@" in a]


def _attachments(fields: Mapping[str, str]) -> list[MediaItem]:
    """``attachment-info``'s names and types (``attachments`` says how many)."""
    try:
        count = min(int(fields.get("attachments") or 0), MAX_ATTACHMENTS)
    except ValueError:
        raise Malformed("attachments", "is not a count") from None
    try:
        info = json.loads(fields.get("attachment-info") or "{}")
    except ValueError:
        raise Malformed("attachment-info", "is not JSON") from None
    if not isinstance(info, dict):
        raise Malformed("attachment-info", "is not a JSON object")
    found = []
    for n in range(1, count + 1):
        item = info.get(f"attachment{n}") or {}
        name = str(item.get("filename") or item.get("name") or f"attachment{n}")
        found.append(MediaItem(url=f"attachment:{n}/{name}", content_type=item.get("type")))
    return found
