"""Deliver a batch of notification requests once per idempotency key, log every message in its
conversation, then answer: ReplySent for every message that went out (a chat reply, an SMS
or WhatsApp message Twilio accepted, an email SendGrid accepted), EffectSettled for the
executions that wait for the outcome, DeliveryFailed for every message that did not go out.

Per batch: (SMS and WhatsApp only: one read of their conversations and accounts), one round of
writes (records, messages, conversations), (SMS and WhatsApp only: one round of sends to Twilio,
one round of writes of what it answered), one round of publishes. A chat reply costs no read.
An SMS or WhatsApp message keeps its record on itself (notifier.domain.delivery.logged): one
write before its send, one after; the other deliveries' records are in ``notifications``.
Email (notifier.email_sending) goes the same way as SMS: its own read of the tenants' SendGrid
channels (and of the threads replies continue), its own round of sends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, topics
from contracts.envelope import TraceContext
from contracts.events import EffectSettled, NotificationRequested, ReplySent
from servicekit.publisher import Publish
from servicekit.telemetry import consuming, current_trace

from notifier.adapters.conversations import ConversationUpdates
from notifier.adapters.messages import MessageLog
from notifier.adapters.store import NotificationRepository
from notifier.chatops_sending import ChatOpsSending
from notifier.domain.delivery import (
    PROVIDER_ROUTES,
    Delivery,
    Route,
    keeps_record,
    logged,
    plan_delivery,
    recorded_on,
)
from notifier.domain.lifecycle import FAILED_STATUSES, NOTIFICATION, PENDING
from notifier.email_sending import EmailSending
from notifier.publishing import Announce, delivery_failed, nobody, publish_all
from notifier.publishing import Outgoing as OutgoingEvent
from notifier.sending import TwilioSending, conversation_failures
from notifier.telemetry import DELIVERIES, tracer

Document = dict[str, Any]
GROUP = "notifier"


class NotificationService:
    def __init__(
        self,
        notifications: NotificationRepository,
        messages: MessageLog,
        conversations: ConversationUpdates,
        twilio: TwilioSending,
        publish: Publish,
        announce: Announce = nobody,
        chatops: ChatOpsSending | None = None,
        *,
        email: EmailSending | None = None,
    ) -> None:
        self._notifications = notifications
        self._messages = messages
        self._conversations = conversations
        self._publish = publish
        self._announce = announce
        self._chatops = chatops
        # the routes that send through a provider, each recorded before its send
        self._senders: dict[Route, TwilioSending | EmailSending] = {Route.TWILIO: twilio}
        if email is not None:
            self._senders[Route.EMAIL] = email

    async def on_notifications_requested(
        self, envelopes: list[Envelope[NotificationRequested]]
    ) -> None:
        """Record every delivery of the batch in one round (a redelivered request finds its
        earlier record and is answered as the first time, and sends nothing), send what is
        new, then publish the answers together."""
        now = datetime.now(UTC)
        # A request twice in one batch (the executor re-published its outbox) is handled once
        # and answered twice, as a redelivery is.
        firsts: dict[str, NotificationRequested] = {}
        for envelope in envelopes:
            firsts.setdefault(envelope.data.idempotency_key, envelope.data)
        requests = list(firsts.values())
        chatops: list[NotificationRequested] = []
        if self._chatops is not None:  # Slack and Teams posts: notifier.chatops_sending
            chatops = [r for r in requests if self._chatops.handles(r)]
            requests = [r for r in requests if not self._chatops.handles(r)]
        deliveries = [plan_delivery(request, now) for request in requests]
        deliveries = await self._address(requests, deliveries, now)
        earlier = await self._record(deliveries, now)
        answers: list[tuple[Delivery, str]] = []
        to_send: list[Delivery] = []
        settle_later: list[Delivery] = []
        for delivery in deliveries:
            before = earlier.get(delivery.key)
            sender = self._senders.get(delivery.route)
            if sender is not None and sender.may_send(delivery, before):
                to_send.append(delivery)
            elif before is None:
                answers.append((delivery, str(delivery.record.get("status"))))
            elif before.get("status") == PENDING and sender is not None:
                settle_later.append(sender.interrupted(delivery, now))
            else:  # a redelivery: answer as the first time, act no more
                answers.append((_as_recorded(delivery, before), "duplicate"))
        traces = {envelope.data.idempotency_key: self._trace_of(envelope) for envelope in envelopes}
        finished = [*await self._send(to_send, now), *settle_later]
        await self._record_sent(finished, now)
        answers += [(d, str(d.record["status"])) for d in finished]
        if self._chatops is not None:
            answers += await self._chatops.deliver(chatops, now)
        by_key = {d.key: (d, outcome) for d, outcome in answers}
        answered: set[str] = set()
        outgoing: list[OutgoingEvent] = []
        for envelope in envelopes:
            request, key = envelope.data, envelope.data.idempotency_key
            delivery, outcome = by_key[key]
            outcome = "duplicate" if key in answered else outcome
            answered.add(key)
            DELIVERIES.labels(delivery.record.get("channel") or "none", outcome).inc()
            outgoing += self._answers(request, delivery, traces[key], now)
        await publish_all(self._publish, outgoing)
        await self._announce(outgoing)

    async def _address(
        self, requests: list[NotificationRequested], deliveries: list[Delivery], now: datetime
    ) -> list[Delivery]:
        """Each provider route's deliveries addressed by its sender (one read each)."""
        for route, sender in self._senders.items():
            if any(d.route is route for d in deliveries):
                deliveries = await sender.address(requests, deliveries, now)
        return deliveries

    async def _send(self, deliveries: list[Delivery], now: datetime) -> list[Delivery]:
        """Every route's sends at once."""
        rounds = await asyncio.gather(
            *(
                sender.send([d for d in deliveries if d.route is route], now)
                for route, sender in self._senders.items()
            )
        )
        return [d for sent in rounds for d in sent]

    async def _record_sent(self, deliveries: list[Delivery], now: datetime) -> None:
        await asyncio.gather(
            *(
                sender.record([d for d in deliveries if d.route is route], now)
                for route, sender in self._senders.items()
            )
        )

    async def _record(self, deliveries: list[Delivery], now: datetime) -> dict[str, Document]:
        """Records, messages and conversations written at once; the earlier records of
        requests that were recorded before, by idempotency key (an SMS's read from its
        message)."""
        earlier, existed, _ = await asyncio.gather(
            self._notifications.record_many([d.record for d in deliveries if not keeps_record(d)]),
            self._messages.insert([logged(d) for d in deliveries if d.message is not None]),
            self._conversations.record_failures(conversation_failures(deliveries, now)),
        )
        again = {
            d.message["_id"]: d.key
            for d in deliveries
            if keeps_record(d) and d.message is not None and d.message["_id"] in existed
        }
        if again:
            earlier |= await self._records_on(again)
        return earlier

    async def _records_on(self, messages: dict[str, str]) -> dict[str, Document]:
        """The records SMS and WhatsApp messages logged before keep (``messages``: idempotency
        keys by message id), by idempotency key. A message logged before records were kept on
        messages has its record in ``notifications``; one with none anywhere is taken for
        pending in an unknown process: it is not sent again."""
        found = await self._messages.by_ids(messages)
        earlier = {messages[i]: recorded_on(m) for i, m in found.items() if NOTIFICATION in m}
        apart = {key for key in messages.values() if key not in earlier}
        if apart:
            earlier |= await self._notifications.recorded(apart)
        for key in apart - set(earlier):
            earlier[key] = {"_id": key, "status": PENDING, "sending_process": None}
        return earlier

    @staticmethod
    def _trace_of(envelope: Envelope[NotificationRequested]) -> TraceContext:
        request = envelope.data
        with consuming(
            tracer,
            topics.NOTIFICATION_REQUESTS,
            envelope,
            group=GROUP,
            channel=request.channel,
        ):
            return current_trace()

    @staticmethod
    def _answers(
        request: NotificationRequested, delivery: Delivery, trace: TraceContext, now: datetime
    ) -> list[OutgoingEvent]:
        out: list[OutgoingEvent] = []
        record = delivery.record
        went_out = (delivery.route is Route.CHAT and record.get("status") == "delivered") or (
            delivery.route in PROVIDER_ROUTES and record.get("status") == "sent"
        )
        if went_out:  # the chat widget's stream and the tenants' webhooks read it
            reply = ReplySent(
                notification_id=record["notification_id"],
                tenant_id=request.tenant_id,
                conversation_id=request.conversation_id,
                execution_id=request.execution_id,
                message=str(record.get("message", "")),
                sent_at=record.get("delivered_at") or record.get("sent_at") or now,
                message_id=record.get("message_id"),
                channel=record.get("channel"),
                provider_message_id=record.get("provider_message_id"),
            )
            key = request.conversation_id or request.execution_id
            out.append(OutgoingEvent(topics.REPLIES, key, reply, request.tenant_id, trace))
        if request.awaits_result:  # else the workflow went on; the outcome is stored
            error = record.get("error")
            settled = EffectSettled.answering(
                request, result=None if error else record.get("result"), error=error
            )
            key = request.execution_id
            commands = topics.EXECUTION_COMMANDS
            out.append(OutgoingEvent(commands, key, settled, request.tenant_id, trace))
        message = delivery.message
        if message is not None and message.get("status") in FAILED_STATUSES:
            out.append(delivery_failed(message, trace))
        return out


def _as_recorded(delivery: Delivery, before: Document) -> Delivery:
    """A redelivered request as its record says it went: its answer, and its message as the
    failure announcement needs it (the announcement goes again: it may not have gone out)."""
    message = None
    if delivery.message is not None and before.get("status") == "failed":
        error = dict(before.get("error") or {})
        message = {
            **delivery.message,
            "status": "failed",
            "provider": before.get("provider", delivery.message.get("provider")),
            "error": {
                "type": error.get("type"),
                "code": error.get("provider_code"),
                "message": error.get("message"),
                "retryable": error.get("retryable"),
            },
        }
    return Delivery(delivery.route, before, message, delivery.outbound)
