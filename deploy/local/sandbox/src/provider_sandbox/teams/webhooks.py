"""Teams' side of an incoming webhook, and the sandbox's API around it.

The answers are Teams': 200 with the body `1` (a client must check the body: Teams has answered
200 with an error text), 400 with a plain-text reason for a payload it cannot take, 413 over
28 KB, 404 for an unknown or removed webhook, 429 with `Retry-After` when throttled."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

ADAPTIVE = "application/vnd.microsoft.card.adaptive"
MAX_BYTES = 28 * 1024
RETRY_AFTER_SECONDS = 1
BAD_PAYLOAD = "Bad payload received by generic incoming webhook."


@dataclass
class Webhook:
    id: str
    team: str
    channel: str
    removed: bool = False
    rate_limited: bool = False
    posts: list[dict[str, Any]] = field(default_factory=list)

    def summary(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"{base_url.rstrip('/')}/teams/webhook/{self.id}",
            "team": self.team,
            "channel": self.channel,
            "removed": self.removed,
            "rate_limited": self.rate_limited,
        }


class TeamsState:
    def __init__(self) -> None:
        self.webhooks: dict[str, Webhook] = {}

    def reset(self) -> None:
        self.webhooks.clear()


def refusal(payload: Any) -> str | None:
    """Why Teams does not take ``payload``, in its words; None when it takes it."""
    if not isinstance(payload, dict):
        return BAD_PAYLOAD
    if payload.get("@type") == "MessageCard" or "attachments" not in payload:
        if not payload.get("text") and not payload.get("summary"):
            return "Summary or Text is required."
        return None
    if payload.get("type") != "message":
        return BAD_PAYLOAD
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return BAD_PAYLOAD
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("contentType") != ADAPTIVE:
            return BAD_PAYLOAD
        card = attachment.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            return "The card type must be AdaptiveCard."
        if not isinstance(card.get("body", []), list) or not isinstance(card.get("version"), str):
            return BAD_PAYLOAD
    return None


class WebhookSpec(BaseModel):
    team: str = Field("Acme", min_length=1, max_length=100)
    channel: str = Field("General", min_length=1, max_length=100)
    rate_limited: bool = False


def teams_routers(state: TeamsState) -> list[APIRouter]:
    incoming = APIRouter(tags=["teams"])

    @incoming.post("/teams/webhook/{webhook_id}")
    async def post(webhook_id: str, request: Request) -> PlainTextResponse:
        webhook = state.webhooks.get(webhook_id)
        if webhook is None or webhook.removed:
            return PlainTextResponse("Webhook not found", 404)
        if webhook.rate_limited:
            return PlainTextResponse(
                "Too Many Requests",
                429,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        raw = await request.body()
        if len(raw) > MAX_BYTES:
            return PlainTextResponse("Webhook message delivery failed: the message is too big", 413)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return PlainTextResponse(BAD_PAYLOAD, 400)
        try:
            payload = json.loads(raw)
        except ValueError:
            return PlainTextResponse(BAD_PAYLOAD, 400)
        reason = refusal(payload)
        if reason is not None:
            return PlainTextResponse(reason, 400)
        webhook.posts.append({"payload": payload, "posted_at": time.time()})
        return PlainTextResponse("1", 200)

    inspection = APIRouter(prefix="/sandbox/teams", tags=["sandbox"])

    @inspection.post("/webhooks", status_code=201)
    async def new_webhook(spec: WebhookSpec, request: Request) -> dict[str, Any]:
        webhook = Webhook(secrets.token_hex(16), spec.team, spec.channel)
        webhook.rate_limited = spec.rate_limited
        state.webhooks[webhook.id] = webhook
        return webhook.summary(str(request.base_url))

    def found(webhook_id: str) -> Webhook:
        webhook = state.webhooks.get(webhook_id)
        if webhook is None:
            raise HTTPException(404, f"no webhook {webhook_id}")
        return webhook

    @inspection.delete("/webhooks/{webhook_id}")
    async def remove(webhook_id: str, request: Request) -> dict[str, Any]:
        """The webhook removed from its channel: posts to it are 404 from now on."""
        webhook = found(webhook_id)
        webhook.removed = True
        return webhook.summary(str(request.base_url))

    @inspection.get("/webhooks/{webhook_id}/posts")
    async def posts(webhook_id: str) -> dict[str, Any]:
        """What Teams took on this webhook, oldest first."""
        return {"posts": found(webhook_id).posts}

    @inspection.delete("")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return [incoming, inspection]
