"""For tests: every mail accepted with its request body and events, every webhook sent, a
signed (or forged) Event Webhook on demand, and a reset (``DELETE /sandbox/sendgrid``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict

from .delivery import event
from .state import SendGridState, SentMail
from .webhooks import WebhookSender


class EventRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: Literal["processed", "delivered", "bounce", "dropped", "deferred", "open", "click"]
    signing: Literal["valid", "none", "wrong"] = "valid"
    timestamp: str | None = None  # e.g. an old one: a stale signature


def mail_record(state: SendGridState, mail: SentMail) -> dict[str, Any]:
    return {
        "message_id": mail.message_id,
        "account_id": mail.account_id,
        "accepted_at": mail.accepted_at.isoformat(),
        "request": mail.body,
        "recipients": mail.recipients,
        "events": mail.events,
        "webhooks": [w.to_json() for w in state.webhooks if w.message_id == mail.message_id],
    }


def inspection_router(
    state: SendGridState, sender: WebhookSender, reset: Callable[[], Awaitable[None]]
) -> APIRouter:
    router = APIRouter(prefix="/sandbox/sendgrid", tags=["sandbox"])

    @router.get("/messages")
    async def messages(to: str | None = None, account_id: str | None = None) -> dict[str, Any]:
        """Every mail accepted, oldest first (``to``: any of its recipients)."""
        return {
            "messages": [
                mail_record(state, m)
                for m in state.mails.values()
                if (to is None or to in m.recipients)
                and (account_id is None or m.account_id == account_id)
            ]
        }

    @router.get("/messages/{message_id}")
    async def message(message_id: str) -> dict[str, Any]:
        mail = state.mails.get(message_id)
        if mail is None:
            raise HTTPException(404, f"no mail {message_id}")
        return mail_record(state, mail)

    @router.post("/messages/{message_id}/events")
    async def send_event(message_id: str, request: EventRequest) -> dict[str, Any]:
        """One more event about a mail, to its account's Event Webhook, signed as asked."""
        mail = state.mails.get(message_id)
        account = state.accounts.get(mail.account_id) if mail else None
        if mail is None or account is None:
            raise HTTPException(404, f"no mail {message_id}")
        found = event(mail, mail.recipients[0], 0, request.event)
        record = await sender.events(
            account,
            [found],
            message_id=message_id,
            signing=request.signing,
            timestamp=request.timestamp,
        )
        if request.signing == "valid":
            mail.events.append(found)
        return {"event": found, "webhook": record.to_json() if record else None}

    @router.get("/webhooks")
    async def webhooks(kind: str | None = None, message_id: str | None = None) -> dict[str, Any]:
        return {
            "webhooks": [
                w.to_json()
                for w in state.webhooks
                if (kind is None or w.kind == kind)
                and (message_id is None or w.message_id == message_id)
            ]
        }

    @router.delete("")
    async def reset_all() -> dict[str, Any]:
        await reset()
        return {"reset": True}

    return router
