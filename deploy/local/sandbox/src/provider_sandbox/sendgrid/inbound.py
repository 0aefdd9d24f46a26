"""A customer's email to one of the tenants' parse hosts: ``POST /sandbox/sendgrid/inbound``
makes the sandbox POST it to the host's Inbound Parse URL as SendGrid does (multipart/form-data:
``headers``, ``from``, ``to``, ``cc``, ``subject``, ``text``, ``html``, ``envelope``,
``charsets``, ``SPF``, ``dkim``, ``sender_ip``, ``spam_score``, ``attachments`` with
``attachment-info`` and the files ``attachment1``...). A reply to a mail the sandbox sent
(``reply_to``: its X-Message-Id) carries ``In-Reply-To`` and ``References`` naming that mail's
``Message-ID`` and quotes it below the new text, as mail clients do."""

from __future__ import annotations

import base64
import json
import secrets
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from .state import Account, SendGridState, now
from .webhooks import WebhookSender


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str
    type: str = "application/octet-stream"
    content: str = Field(description="base64")


class InboundEmail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: str = Field(alias="from")
    from_name: str | None = None
    to: str = Field(description="an address at one of an account's parse hosts")
    subject: str | None = None
    text: str = ""
    html: str | None = None
    reply_to: str | None = Field(None, description="the X-Message-Id of the mail this answers")
    quote: bool = Field(True, description="quote the answered mail below the text")
    message_id: str | None = Field(None, description="the Message-ID header; minted if absent")
    in_reply_to: str | None = None
    references: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)


def inbound_router(state: SendGridState, sender: WebhookSender) -> APIRouter:
    router = APIRouter(prefix="/sandbox/sendgrid", tags=["sandbox"])

    @router.post("/inbound")
    async def inbound(email: InboundEmail) -> dict[str, Any]:
        """Post the email to the parse URL of the `to` address's host: the receiver's answer
        (`status`, `body`) and the Message-ID sent."""
        host = email.to.rpartition("@")[2].lower()
        found = _parse_url(state, host)
        if found is None:
            raise HTTPException(404, f"no account has an Inbound Parse host {host}")
        account, url = found
        fields, files, message_id = _form(state, email)
        record = await sender.parse(account, url, fields, files, message_id=email.reply_to)
        return {
            "status": record.status,
            "body": record.body,
            "error": record.error,
            "message_id": message_id,
            "webhook": record.id,
        }

    return router


def _parse_url(state: SendGridState, host: str) -> tuple[Account, str] | None:
    for account in state.accounts.values():
        if host in account.parse_hosts:
            return account, account.parse_hosts[host]
    return None


def _form(
    state: SendGridState, email: InboundEmail
) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]], str]:
    message_id = email.message_id or f"<{secrets.token_hex(8)}@mail.customer.test>"
    in_reply_to, references, subject, text = (
        email.in_reply_to,
        email.references,
        email.subject,
        email.text,
    )
    answered = state.mails.get(email.reply_to) if email.reply_to else None
    if email.reply_to and answered is None:
        raise HTTPException(404, f"no mail {email.reply_to} was sent")
    if answered is not None:
        original = answered.header("Message-ID") or f"<{answered.message_id}@sandbox.sendgrid.test>"
        in_reply_to = in_reply_to or original
        references = references or " ".join(
            r for r in ((answered.header("References") or ""), original) if r
        )
        subject = subject or "Re: " + str(answered.body.get("subject") or "")
        if email.quote:
            sent = next(
                (
                    c.get("value", "")
                    for c in answered.body.get("content") or []
                    if c.get("type") == "text/plain"
                ),
                "",
            )
            sender = (answered.body.get("from") or {}).get("email", "")
            quoted = "\n".join("> " + line for line in str(sent).splitlines())
            when = format_datetime(answered.accepted_at)
            text = f"{text}\n\nOn {when}, {sender} wrote:\n{quoted}\n"
    sender_line = f"{email.from_name} <{email.from_}>" if email.from_name else email.from_
    headers = [
        "Received: by mx.sendgrid.net with SMTP id sandbox; " + format_datetime(now()),
        f"Message-ID: {message_id}",
        *([f"In-Reply-To: {in_reply_to}"] if in_reply_to else []),
        *([f"References: {references}"] if references else []),
        f"From: {sender_line}",
        f"To: {email.to}",
        f"Subject: {subject or ''}",
        "Date: " + format_datetime(now()),
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="sandbox"',
    ]
    fields = {
        "headers": "\n".join(headers) + "\n",
        "dkim": "{@" + email.from_.rpartition("@")[2] + " : pass}",
        "to": email.to,
        "from": sender_line,
        "subject": subject or "",
        "text": text,
        "sender_ip": "203.0.113.25",
        "spam_score": "0.1",
        "spam_report": "",
        "envelope": json.dumps({"to": [email.to], "from": email.from_}),
        "charsets": json.dumps(
            {"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "UTF-8", "html": "UTF-8"}
        ),
        "SPF": "pass",
        "attachments": str(len(email.attachments)),
    }
    if email.html is not None:
        fields["html"] = email.html
    files = []
    info = {}
    for n, attachment in enumerate(email.attachments, start=1):
        content = base64.b64decode(attachment.content)
        files.append((f"attachment{n}", (attachment.filename, content, attachment.type)))
        info[f"attachment{n}"] = {"filename": attachment.filename, "type": attachment.type}
    if info:
        fields["attachment-info"] = json.dumps(info)
    return fields, files, message_id
