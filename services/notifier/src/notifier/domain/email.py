"""What an email request asks to send, and the SendGrid v3 Mail Send body for it. Pure: no I/O.

- Send Email (``action.send_email``): ``{to, cc, bcc, subject, body, templateId?,
  templateData?, attachments?, categories?}``; ``body`` is HTML when it has tags (a text part
  is derived from it), else text.
- SendGrid (``integration.sendgrid``): ``{action: sendEmail|sendTemplate, params: {to, cc?,
  bcc?, subject?, body?|html?|text?, templateId?, templateData?|dynamic_template_data?,
  categories?, from?, fromName?}}``.
- Send Reply on channel ``email``: ``{message}`` to the conversation's customer, in the thread
  of the customer's last email (In-Reply-To, References, ``Re:`` its subject).

Every email carries a Message-ID we choose, naming our message (``<msg_...@sender's host>``:
a reply's In-Reply-To names it, so the gateway threads the reply back), ``custom_args`` with
our message id, the idempotency key and the tenant (SendGrid flattens them into every event),
and Reply-To the tenant's inbound parse address."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from contracts.events import NotificationRequested

from notifier.domain.outbound import SEND_REPLY, Outbound

SEND_EMAIL = "action.send_email"
SENDGRID = "integration.sendgrid"
EMAIL_CHANNELS = frozenset({"email"})
MESSAGE_ID_ARG = "cf_message_id"
IDEMPOTENCY_ARG = "cf_idempotency_key"
TENANT_ARG = "cf_tenant_id"
"""The custom_args every email carries (the gateway reads the first and the last)."""
MAX_RECIPIENTS = 1000
_TAG = re.compile(r"<[^>]+>")
_HTML = re.compile(r"<(html|body|p|div|br|a|table|span|b|i|strong|em|h[1-6]|ul|ol|li)\b", re.I)
_RE = re.compile(r"^\s*re\s*:", re.I)


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: str | None  # base64, as SendGrid takes it (fetched from ``url`` when absent)
    url: str | None
    type: str | None


@dataclass(frozen=True, slots=True)
class EmailContent:
    """An email's recipients and content. The sender and the thread are added when it is
    addressed (the tenant's channel, the conversation's last email)."""

    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    subject: str = ""
    text: str = ""
    html: str | None = None
    template_id: str | None = None
    template_data: Mapping[str, Any] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    from_email: str | None = None
    from_name: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    reply: bool = False  # Send Reply: threaded into the conversation's last email


def is_email(request: NotificationRequested) -> bool:
    if request.kind in (SEND_EMAIL, SENDGRID):
        return True
    channel = request.request.get("channel") or request.channel
    return request.kind == SEND_REPLY and channel in EMAIL_CHANNELS


def email_content(request: NotificationRequested) -> EmailContent | None:
    """The email ``request`` asks for; None when it asks for none."""
    rendered = request.request
    if request.kind == SEND_REPLY:
        if not is_email(request):
            return None
        body = _text(rendered.get("message")) or ""
        return _with_body(EmailContent(to=_addresses(rendered.get("to")), reply=True), body)
    if request.kind == SEND_EMAIL:
        params: Mapping[str, Any] = rendered
    elif request.kind == SENDGRID:
        given = rendered.get("params")
        params = given if isinstance(given, Mapping) else {}
    else:
        return None
    content = EmailContent(
        to=_addresses(params.get("to")),
        cc=_addresses(params.get("cc")),
        bcc=_addresses(params.get("bcc")),
        subject=_text(params.get("subject")) or "",
        template_id=_text(params.get("templateId") or params.get("template_id")),
        template_data=_mapping(
            params.get("templateData") or params.get("dynamic_template_data") or {}
        ),
        categories=tuple(_addresses(params.get("categories"))),
        attachments=_attachments(params.get("attachments")),
        from_email=_text(params.get("from")),
        from_name=_text(params.get("fromName")),
    )
    if _text(params.get("html")) or _text(params.get("text")):
        return _with_parts(content, _text(params.get("text")), _text(params.get("html")))
    return _with_body(content, _text(params.get("body")) or _text(params.get("message")) or "")


def outbound_of_email(request: NotificationRequested, content: EmailContent) -> Outbound:
    """The message as the conversation's log keeps it (recipients joined in ``to``)."""
    return Outbound(
        channel="email",
        body=content.text or content.html or "",
        to=", ".join(content.to) or None,
        from_=content.from_email,
    )


def threaded(content: EmailContent, last_email: Mapping[str, Any] | None) -> EmailContent:
    """A reply in the thread of the conversation's last email (a document of the message log:
    ``provider_message_id`` its Message-ID, ``subject``, ``from``): In-Reply-To, References,
    ``Re:`` its subject; to its sender unless the request named a recipient."""
    if last_email is None:
        return content
    original = _text(last_email.get("provider_message_id"))
    subject = _text(last_email.get("subject")) or content.subject
    if subject and not _RE.match(subject):
        subject = "Re: " + subject
    references = tuple((_text(last_email.get("references")) or "").split())
    if original and original not in references:
        references = (*references, original)
    sender = _text(last_email.get("from"))
    return _replace(
        content,
        to=content.to or ((sender,) if sender else ()),
        subject=subject or content.subject,
        in_reply_to=original,
        references=references,
    )


def message_id_header(message_id: str, from_email: str) -> str:
    """Our Message-ID: names our message, on the sender's host (RFC 5322 ``<id@host>``)."""
    host = from_email.rpartition("@")[2] or "connectflo.invalid"
    return f"<{message_id}@{host}>"


def problem(content: EmailContent) -> str | None:
    """Why the email cannot be sent as asked (InvalidMessage), or None."""
    recipients = len(content.to) + len(content.cc) + len(content.bcc)
    if not content.to:
        return "the email has no recipient ('to')"
    if recipients > MAX_RECIPIENTS:
        return f"the email has {recipients} recipients; at most {MAX_RECIPIENTS}"
    if not content.template_id and not (content.text or content.html):
        return "the email has no body (and no templateId)"
    if not content.template_id and not content.subject:
        return "the email has no subject (and no templateId)"
    if any(a.content is None and a.url is None for a in content.attachments):
        return "an attachment has neither `content` (base64) nor `url`"
    return None


def mail_body(
    content: EmailContent,
    *,
    from_email: str,
    from_name: str | None,
    reply_to: str | None,
    message_id_value: str,
    custom_args: Mapping[str, str],
) -> dict[str, Any]:
    """SendGrid's v3 Mail Send request body."""
    personalization: dict[str, Any] = {"to": [{"email": a} for a in content.to]}
    if content.cc:
        personalization["cc"] = [{"email": a} for a in content.cc]
    if content.bcc:
        personalization["bcc"] = [{"email": a} for a in content.bcc]
    if content.template_id and content.template_data:
        personalization["dynamic_template_data"] = dict(content.template_data)
    sender: dict[str, str] = {"email": from_email}
    if from_name:
        sender["name"] = from_name
    body: dict[str, Any] = {"personalizations": [personalization], "from": sender}
    if content.subject:
        body["subject"] = content.subject
    blocks = []
    if content.text:
        blocks.append({"type": "text/plain", "value": content.text})
    if content.html:
        blocks.append({"type": "text/html", "value": content.html})
    if blocks:
        body["content"] = blocks
    if content.template_id:
        body["template_id"] = content.template_id
    if reply_to:
        body["reply_to"] = {"email": reply_to}
    headers = {"Message-ID": message_id_value}
    if content.in_reply_to:
        headers["In-Reply-To"] = content.in_reply_to
    if content.references:
        headers["References"] = " ".join(content.references)
    body["headers"] = headers
    body["custom_args"] = dict(custom_args)
    if content.categories:
        body["categories"] = list(content.categories)[:10]
    if content.attachments:
        body["attachments"] = [
            {
                "content": a.content,
                "filename": a.filename,
                **({"type": a.type} if a.type else {}),
            }
            for a in content.attachments
        ]
    return body


def _with_body(content: EmailContent, body: str) -> EmailContent:
    if _HTML.search(body):
        return _with_parts(content, None, body)
    return _replace(content, text=body)


def _with_parts(content: EmailContent, text: str | None, markup: str | None) -> EmailContent:
    if text is None and markup is not None:
        text = html.unescape(_TAG.sub("", markup)).strip()
    return _replace(content, text=text or "", html=markup)


def _replace(content: EmailContent, **changes: Any) -> EmailContent:
    return replace(content, **changes)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _addresses(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    found: list[str] = []
    for item in value:
        if isinstance(item, Mapping):
            item = item.get("email")
        text = _text(item)
        if text and text not in found:
            found.append(text)
    return tuple(found)


def _mapping(value: Any) -> Mapping[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _attachments(value: Any) -> tuple[Attachment, ...]:
    found = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        url = _text(item.get("url"))
        name = _text(item.get("filename")) or (url.rsplit("/", 1)[-1] if url else "attachment")
        content_type = _text(item.get("type") or item.get("contentType"))
        found.append(Attachment(name, _text(item.get("content")), url, content_type))
    return tuple(found)
