"""For tests: every message with its status history and webhooks, every webhook sent, and a
reset (`DELETE /sandbox/twilio`: calls too; it keeps the accounts of SANDBOX_TWILIO_ACCOUNTS).
Calls are inspected under /sandbox/twilio/calls (caller.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from .resources import message_resource
from .state import Message, TwilioState


def message_record(state: TwilioState, message: Message) -> dict[str, Any]:
    records = [w for w in state.webhooks if w.message_sid == message.sid]
    return {
        **message_resource(message),
        "media_urls": message.media_urls,
        "status_callback": message.status_callback,
        "status_history": [{"status": c.status, "at": c.at.isoformat()} for c in message.history],
        "callbacks": [w.to_json() for w in records if w.kind == "status-callback"],
        "webhooks": [w.to_json() for w in records if w.kind != "status-callback"],
    }


def inspection_router(state: TwilioState, reset: Callable[[], Awaitable[None]]) -> APIRouter:
    router = APIRouter(prefix="/sandbox/twilio", tags=["sandbox"])

    @router.get("/messages")
    async def messages(
        account_sid: str | None = None,
        to: str | None = None,
        from_: Annotated[str | None, Query(alias="from")] = None,
        direction: str | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """Every message, oldest first: inbound, outbound-api and outbound-reply."""
        wanted = {
            "account_sid": account_sid,
            "to": to,
            "from_": from_,
            "direction": direction,
            "status": status,
        }
        return {
            "messages": [
                message_record(state, m)
                for m in state.messages.values()
                if all(v is None or getattr(m, k) == v for k, v in wanted.items())
            ]
        }

    @router.get("/messages/{sid}")
    async def message(sid: str) -> dict[str, Any]:
        found = state.messages.get(sid)
        if found is None:
            raise HTTPException(404, f"no message {sid}")
        return message_record(state, found)

    @router.get("/webhooks")
    async def webhooks(
        kind: str | None = None,
        message_sid: str | None = None,
        call_sid: str | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Every webhook request sent, oldest first, each attempt on its own."""
        wanted = {"kind": kind, "message_sid": message_sid, "call_sid": call_sid, "url": url}
        return {
            "webhooks": [
                w.to_json()
                for w in state.webhooks
                if all(v is None or getattr(w, k) == v for k, v in wanted.items())
            ]
        }

    @router.delete("")
    async def reset_all() -> dict[str, Any]:
        await reset()
        return {"reset": True, "accounts": sorted(state.accounts)}

    return router
