"""What a tenant's outbound webhook receives: one JSON object per event, POSTed to each of the
tenant's endpoints subscribed to its type (the gateway registers endpoints, the notifier
delivers; docs/architecture.md, *Tenant webhooks*).

The event types are a published API, as the body's shape is (``WebhookEvent``; its JSON
Schema is in ``docs/schemas/``). ``id`` is the same however often an event is delivered:
receivers deduplicate on it. Events of one conversation may arrive out of order (a status
update before the message's ``message.sent``, a retried event after a later one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

MESSAGE_RECEIVED = "message.received"
"""A customer's message came in on a channel (chat, SMS, WhatsApp, a call's answer)."""
MESSAGE_SENT = "message.sent"
"""An outbound message went out: a chat reply delivered, an SMS or WhatsApp accepted by
the provider (its delivery status follows as ``message.status_updated``)."""
MESSAGE_STATUS_UPDATED = "message.status_updated"
"""The provider's word on an outbound message: queued, sent, delivered, undelivered, failed,
read."""
MESSAGE_FAILED = "message.failed"
"""An outbound message did not reach the person: refused when sent, or reported failed or
undelivered later."""
CONVERSATION_ASSIGNED = "conversation.assigned"
"""An agent got a conversation: the agent, the queue, why (the routing's reason)."""
PING = "ping"
"""A test event, sent on request (``POST /v1/webhooks/{id}/test``) to that endpoint alone."""

EventType = Literal[
    "message.received",
    "message.sent",
    "message.status_updated",
    "message.failed",
    "conversation.assigned",
]
"""The types an endpoint subscribes to."""
SUBSCRIBABLE: tuple[str, ...] = get_args(EventType)


class WebhookEvent(BaseModel):
    """The body of one webhook request (``Content-Type: application/json``). Headers:
    ``X-ConnectFlo-Event-Id``, ``X-ConnectFlo-Event-Type``, ``X-ConnectFlo-Delivery-Id``,
    ``X-ConnectFlo-Delivery-Attempt`` and ``X-ConnectFlo-Signature: t=<unix seconds>,v1=<hex
    HMAC-SHA256(endpoint secret, "<t>." + raw body)>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(description="evt_...: the same on every delivery; deduplicate on it.")
    type: EventType | Literal["ping"]
    created_at: datetime = Field(description="When it happened (not when it was delivered).")
    tenant_id: str
    data: dict[str, Any] = Field(description="The event's object; its fields depend on type.")
