"""Deliver a notification once per idempotency key, then settle the execution's effect."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from contracts import Envelope, topics
from contracts.envelope import TraceContext
from contracts.events import EffectSettled, NotificationRequested, ReplySent
from servicekit.publisher import Publish
from servicekit.telemetry import consuming, current_trace

from notifier.adapters.store import NotificationRepository
from notifier.domain.delivery import Delivery, plan_delivery
from notifier.telemetry import DELIVERIES, tracer

SOURCE = "/connectflo/notifier"
GROUP = "notifier"


class NotificationService:
    def __init__(self, notifications: NotificationRepository, publish: Publish) -> None:
        self._notifications = notifications
        self._publish = publish

    async def on_notifications_requested(
        self, envelopes: list[Envelope[NotificationRequested]]
    ) -> None:
        """Record every delivery of the batch in one write (a redelivered request finds its
        earlier record and is answered as the first time), then send the replies and the
        settlements together."""
        now = datetime.now(UTC)
        deliveries = [plan_delivery(envelope.data, now) for envelope in envelopes]
        earlier = await self._notifications.record_many([d.record for d in deliveries])
        sends: list[tuple[str, str, ReplySent | EffectSettled, str, TraceContext]] = []
        for envelope, delivery in zip(envelopes, deliveries, strict=True):
            request = envelope.data
            before = earlier.get(delivery.record["_id"])
            if before is not None:  # a redelivery: answer as the first time, act no more
                delivery = Delivery(
                    before, before.get("result"), before.get("error"), before.get("message")
                )
            outcome = "duplicate" if before is not None else delivery.record.get("status")
            DELIVERIES.labels(request.channel or "none", outcome or "unknown").inc()
            with consuming(
                tracer,
                topics.NOTIFICATION_REQUESTS,
                envelope,
                group=GROUP,
                channel=request.channel,
                delivery_outcome=outcome,
            ):
                trace = current_trace()
            if delivery.reply_message is not None:
                reply = ReplySent(
                    notification_id=delivery.record["notification_id"],
                    tenant_id=request.tenant_id,
                    conversation_id=request.conversation_id,
                    execution_id=request.execution_id,
                    message=delivery.reply_message,
                    sent_at=delivery.record.get("delivered_at") or now,
                )
                key = request.conversation_id or request.execution_id
                sends.append((topics.REPLIES, key, reply, request.tenant_id, trace))
            if request.awaits_result:  # else the workflow went on; the outcome is stored
                settled = EffectSettled.answering(
                    request, result=delivery.result, error=delivery.error
                )
                sends.append(
                    (
                        topics.EXECUTION_COMMANDS,
                        request.execution_id,
                        settled,
                        request.tenant_id,
                        trace,
                    )
                )
        # Started in order, so events with one key keep their order on a topic.
        await asyncio.gather(*(self._send(*send) for send in sends))

    async def _send(
        self,
        topic: str,
        key: str,
        event: ReplySent | EffectSettled,
        tenant_id: str,
        trace: TraceContext,
    ) -> None:
        out = Envelope.wrap(event, source=SOURCE, tenant_id=tenant_id, **trace)
        await self._publish(out.body(), topic, key.encode(), out.headers())
