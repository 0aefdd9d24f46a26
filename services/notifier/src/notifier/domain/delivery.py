"""What the notifier does with a request, decided without I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.events import NotificationRequested

CHAT_KINDS = frozenset({"action.send_reply"})


@dataclass(frozen=True)
class Delivery:
    """The notification record and the result (or error) the execution gets back."""

    record: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    reply_message: str | None


def notification_id(idempotency_key: str) -> str:
    return "ntf_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def plan_delivery(request: NotificationRequested, now: datetime) -> Delivery:
    """Chat replies are delivered by publishing a ReplySent event; other channels are not
    connected yet and answer with an error the workflow can route on."""
    nid = notification_id(request.idempotency_key)
    record: dict[str, Any] = {
        "_id": request.idempotency_key,
        "notification_id": nid,
        "tenant_id": request.tenant_id,
        "execution_id": request.execution_id,
        "effect_id": request.effect_id,
        "node_id": request.node_id,
        "kind": request.kind,
        "channel": request.channel,
        "conversation_id": request.conversation_id,
        "created_at": now,
    }
    if request.kind in CHAT_KINDS and request.channel in ("chat", "web", "widget"):
        message = str(request.request.get("message", ""))
        result = {"notification_id": nid, "status": "delivered", "channel": request.channel}
        record.update(status="delivered", message=message, delivered_at=now, result=result)
        return Delivery(record, result, None, message)
    error = {
        "type": "ChannelNotConnected",
        "message": f"{request.kind} on channel {request.channel!r} is not connected yet",
    }
    record.update(status="failed", error=error)
    return Delivery(record, None, error, None)
