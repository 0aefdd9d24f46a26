"""What the notifier publishes, and how: every event of a batch in one round, started in
order (events with one key keep their order on a topic), each in the trace of the message it
answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import Envelope, topics
from contracts.envelope import TraceContext
from contracts.events import DeliveryFailed, Event
from servicekit.publisher import Publish

SOURCE = "/connectflo/notifier"


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: str
    event: Event
    tenant_id: str
    trace: TraceContext


Announce = Callable[[list[Outgoing]], Awaitable[None]]
"""Told what was published (the tenants' webhooks: notifier.webhooks.WebhookEvents)."""


async def nobody(outgoing: list[Outgoing]) -> None:
    """No one to tell."""


async def publish_all(publish: Publish, outgoing: list[Outgoing]) -> None:
    async def one(out: Outgoing) -> None:
        envelope = Envelope.wrap(out.event, source=SOURCE, tenant_id=out.tenant_id, **out.trace)
        await publish(envelope.body(), out.topic, out.key.encode(), envelope.headers())

    await asyncio.gather(*(one(out) for out in outgoing))


def delivery_failed(message: dict[str, Any], trace: TraceContext) -> Outgoing:
    """The announcement of a failed message (its document as logged, status failed or
    undelivered), keyed by its execution: the same ``failure_id`` each time."""
    status = str(message["status"])
    failed_at: datetime = message.get("updated_at") or message["created_at"]
    event = DeliveryFailed(
        failure_id=f"{message['_id']}:{status}",
        tenant_id=message["tenant_id"],
        execution_id=message["execution_id"],
        node_id=message["node_id"],
        notification_id=message["notification_id"],
        message_id=message["_id"],
        conversation_id=message.get("conversation_id"),
        channel=message["channel"],
        provider=message.get("provider"),
        provider_message_id=message.get("provider_message_id"),
        status=status,
        error=message.get("error") or {},
        failed_at=failed_at,
    )
    return Outgoing(topics.EXECUTIONS, message["execution_id"], event, message["tenant_id"], trace)
