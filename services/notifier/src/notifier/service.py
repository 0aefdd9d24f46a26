"""Deliver a notification once per idempotency key, then settle the execution's effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from contracts import Envelope, topics
from contracts.events import EffectSettled, NotificationRequested, ReplySent

from notifier.adapters.store import NotificationRepository
from notifier.domain.delivery import Delivery, plan_delivery

SOURCE = "/connectflo/notifier"
Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]


class NotificationService:
    def __init__(self, notifications: NotificationRepository, publish: Publish) -> None:
        self._notifications = notifications
        self._publish = publish

    async def on_notification_requested(self, envelope: Envelope[NotificationRequested]) -> None:
        request = envelope.data
        delivery = plan_delivery(request, datetime.now(UTC))
        earlier = await self._notifications.record(delivery.record)
        if earlier is not None:  # a redelivery: answer as the first time, act no more
            delivery = Delivery(
                earlier, earlier.get("result"), earlier.get("error"), earlier.get("message")
            )
        if delivery.reply_message is not None:
            await self._send(
                topics.REPLIES,
                request.conversation_id or request.execution_id,
                ReplySent(
                    notification_id=delivery.record["notification_id"],
                    tenant_id=request.tenant_id,
                    conversation_id=request.conversation_id,
                    execution_id=request.execution_id,
                    message=delivery.reply_message,
                    sent_at=delivery.record.get("delivered_at") or datetime.now(UTC),
                ),
                envelope,
            )
        if not request.awaits_result:
            return  # the workflow went on without waiting; the outcome is in `notifications`
        await self._send(
            topics.EXECUTION_COMMANDS,
            request.execution_id,
            EffectSettled(
                command_id="settle:" + request.idempotency_key,
                execution_id=request.execution_id,
                tenant_id=request.tenant_id,
                effect_id=request.effect_id,
                idempotency_key=request.idempotency_key,
                result=delivery.result,
                error=delivery.error,
            ),
            envelope,
        )

    async def _send(
        self,
        topic: str,
        key: str,
        event: ReplySent | EffectSettled,
        cause: Envelope[NotificationRequested],
    ) -> None:
        out = Envelope.wrap(
            event, source=SOURCE, tenant_id=cause.tenant_id, traceparent=cause.traceparent
        )
        await self._publish(out.body(), topic, key.encode(), out.headers())
