"""What happens to a mail once accepted: per recipient, ``processed`` then, by the recipient's
address (magic tags in its local part, README), ``delivered`` (with ``open`` and ``click`` for
``+open``), ``bounce``, ``dropped``, or ``deferred`` then ``delivered``; each step's events
POSTed to the account's Event Webhook as SendGrid sends them: a JSON array, ``custom_args``
flattened into each event, ``sg_event_id`` unique per event, ``sg_message_id`` the
X-Message-Id and a filter suffix."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

from .state import SendGridState, SentMail
from .webhooks import WebhookSender

BOUNCE, DROP, DEFER, OPEN = "+bounce", "+drop", "+defer", "+open"


def outcome(address: str) -> list[str]:
    """The events after ``processed`` for a recipient, from the tag in its local part."""
    local = address.partition("@")[0].lower()
    if local.endswith(BOUNCE):
        return ["bounce"]
    if local.endswith(DROP):
        return ["dropped"]
    if local.endswith(DEFER):
        return ["deferred", "delivered"]
    if local.endswith(OPEN):
        return ["delivered", "open", "click"]
    return ["delivered"]


_DETAILS: dict[str, dict[str, Any]] = {
    "processed": {},
    "delivered": {"response": "250 2.0.0 OK", "ip": "168.245.0.1", "tls": 1},
    "deferred": {"response": "421 4.7.0 Try again later", "attempt": "1"},
    "bounce": {
        "type": "bounce",
        "status": "5.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "bounce_classification": "Invalid Address",
    },
    "dropped": {"reason": "Bounced Address", "status": "5.0.0"},
    "open": {"useragent": "Mozilla/5.0", "ip": "203.0.113.7", "sg_machine_open": False},
    "click": {"url": "https://example.com/", "url_offset": {"index": 0, "type": "html"}},
}


def event(mail: SentMail, recipient: str, index: int, kind: str) -> dict[str, Any]:
    body = mail.body
    categories = body.get("categories") or []
    custom_args = dict(body.get("custom_args") or {})
    for p in body.get("personalizations") or []:
        custom_args.update(p.get("custom_args") or {})
    found: dict[str, Any] = {
        **custom_args,  # flattened into the event, as SendGrid does
        "email": recipient,
        "timestamp": int(time.time()),
        "smtp-id": mail.header("Message-ID") or f"<{mail.message_id}@sandbox.sendgrid.test>",
        "event": kind,
        "sg_event_id": secrets.token_urlsafe(16)[:22],
        "sg_message_id": f"{mail.message_id}.filterdrecv-sandbox-{index}.0",
        **_DETAILS[kind],
    }
    if categories:
        found["category"] = categories
    return found


class MailLifecycle:
    def __init__(self, state: SendGridState, sender: WebhookSender, *, delay_s: float) -> None:
        self.state = state
        self.sender = sender
        self.delay_s = delay_s
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, mail: SentMail) -> None:
        task = asyncio.get_running_loop().create_task(self._run(mail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, mail: SentMail) -> None:
        recipients = mail.recipients
        steps = [["processed"] * len(recipients)]
        plans = [outcome(r) for r in recipients]
        for n in range(max(len(p) for p in plans)):
            steps.append([p[n] if n < len(p) else "" for p in plans])
        for step in steps:
            await asyncio.sleep(self.delay_s)
            events = [
                event(mail, recipient, i, kind)
                for i, (recipient, kind) in enumerate(zip(recipients, step, strict=True))
                if kind
            ]
            if not events:
                continue
            mail.events += events
            account = self.state.accounts.get(mail.account_id)
            if account is not None:
                await self.sender.events(account, events, message_id=mail.message_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
