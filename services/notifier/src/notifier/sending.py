"""SMS and WhatsApp messages of a batch: their addresses and the tenants' accounts read at once,
then sent together through Twilio, then what Twilio answered written at once (with the status
reports that arrived before the message's sid was known).

A message is sent only after its notification record is written (``pending``, with the
process that will send it); a redelivered request whose record is still ``pending`` from
another process (that one stopped while sending: Twilio may or may not have the message) is
not sent again but answered ``DeliveryInterrupted``, so a message is never sent twice."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts.conversations import conversation_ref
from contracts.envelope import NO_TRACE, TraceContext
from contracts.events import NotificationRequested

from notifier.adapters.conversations import ConversationUpdates, Failure
from notifier.adapters.messages import MessageLog
from notifier.adapters.store import NotificationRepository
from notifier.adapters.twilio_accounts import TwilioAccount, TwilioAccounts
from notifier.adapters.twilio_client import MessageSender, SendFailed
from notifier.delivery_status import DeliveryStatus
from notifier.domain.delivery import TWILIO, Delivery, Route, addressed, refused, sent
from notifier.domain.errors import DELIVERY_INTERRUPTED, DeliveryError, failure
from notifier.domain.lifecycle import PENDING
from notifier.publishing import Outgoing as OutgoingEvent

log = logging.getLogger(__name__)
Document = dict[str, Any]


class TwilioSending:
    def __init__(
        self,
        accounts: TwilioAccounts,
        conversations: ConversationUpdates,
        notifications: NotificationRepository,
        messages: MessageLog,
        sender: MessageSender,
        status: DeliveryStatus,
        *,
        status_callback_url: str | None,
    ) -> None:
        self._accounts = accounts
        self._conversations = conversations
        self._notifications = notifications
        self._messages = messages
        self._sender = sender
        self._status = status
        self._status_callback = status_callback_url
        self.process = f"{uuid.uuid4().hex[:12]}"  # who records a pending delivery
        self._accounts_of: dict[str, TwilioAccount] = {}

    async def address(
        self,
        requests: Sequence[NotificationRequested],
        deliveries: list[Delivery],
        now: datetime,
    ) -> list[Delivery]:
        """Twilio deliveries with their addresses and accounts (one read of the conversations
        and of the accounts not cached), or failed when they have none."""
        wanted = [
            (r, d) for r, d in zip(requests, deliveries, strict=True) if d.route is Route.TWILIO
        ]
        refs = {
            conversation_ref(r.tenant_id, r.conversation_id)
            for r, d in wanted
            if r.conversation_id
            and d.outbound
            and not (d.outbound.to and d.outbound.from_)
            and not r.tenant_address  # the executor named the conversation's addresses
        }
        conversations, accounts = await asyncio.gather(
            self._conversations.addresses(refs),
            self._accounts.for_tenants({r.tenant_id for r, _ in wanted}),
        )
        out = []
        for request, delivery in zip(requests, deliveries, strict=True):
            if delivery.route is not Route.TWILIO:
                out.append(delivery)
                continue
            assert delivery.outbound is not None
            account = accounts.get(request.tenant_id)
            conversation: Document | None = None
            if request.tenant_address:
                conversation = {
                    "contact_address": request.contact_address,
                    "tenant_address": request.tenant_address,
                }
            elif request.conversation_id:
                ref = conversation_ref(request.tenant_id, request.conversation_id)
                conversation = conversations.get(ref)
            numbers = (
                account.senders(delivery.outbound.channel)
                if isinstance(account, TwilioAccount)
                else None
            )
            ready = addressed(delivery, request, conversation, numbers, now)
            if isinstance(account, DeliveryError) and ready.error is None:
                ready = refused(ready, account, now)
            elif isinstance(account, TwilioAccount) and ready.error is None:
                self._accounts_of[ready.key] = account
                ready.record["sending_process"] = self.process
            ready.record["provider"] = TWILIO
            out.append(ready)
        return out

    def may_send(self, delivery: Delivery, earlier: dict[str, object] | None) -> bool:
        """A delivery to send now: ready, and recorded by this process (a first delivery, or
        one this process recorded and did not get to send)."""
        if delivery.route is not Route.TWILIO or delivery.error is not None:
            return False
        if earlier is None:
            return True
        return earlier.get("status") == PENDING and earlier.get("sending_process") == self.process

    def interrupted(self, delivery: Delivery, now: datetime) -> Delivery:
        """A redelivered request whose send another process started and did not finish."""
        self._accounts_of.pop(delivery.key, None)
        error = failure(
            DELIVERY_INTERRUPTED,
            "the notifier stopped while sending this message: it may or may not have been "
            "sent, and is not sent again",
        )
        return refused(delivery, error, now)

    async def send(self, deliveries: list[Delivery], now: datetime) -> list[Delivery]:
        """Each delivery sent (at once, bounded by the sender's concurrency): sent or refused."""

        async def one(delivery: Delivery) -> Delivery:
            account = self._accounts_of.pop(delivery.key)
            assert delivery.outbound is not None
            try:
                answer = await self._sender.send(account, delivery.outbound, self._status_callback)
            except SendFailed as exc:
                return refused(delivery, exc.error, now)
            return sent(delivery, answer.sid, answer.status, now)

        return list(await asyncio.gather(*(one(d) for d in deliveries)))

    async def record(
        self, deliveries: list[Delivery], now: datetime, traces: Mapping[str, TraceContext]
    ) -> list[OutgoingEvent]:
        """What the sends became, in one round (records, messages, conversations), then the
        status reports that came before their message's sid was known (``traces``: by
        idempotency key); the failures those announce."""
        if not deliveries:
            return []
        messages = {d.key: d.message for d in deliveries if d.message is not None}
        await asyncio.gather(
            self._notifications.record_outcomes([d.record for d in deliveries]),
            self._messages.record_sent(list(messages.values())),
            self._conversations.record_failures(conversation_failures(deliveries, now)),
        )
        by_tenant: dict[str, dict[str, tuple[str, Document]]] = {}
        for key, m in messages.items():
            if m["provider_message_id"]:
                by_tenant.setdefault(m["tenant_id"], {})[m["provider_message_id"]] = (key, m)
        outgoing: list[OutgoingEvent] = []
        for tenant, accepted in by_tenant.items():
            early = await self._messages.reports_for(tenant, TWILIO, accepted)
            if early:
                outgoing += await self._status.apply(
                    {sid: accepted[sid][1] for sid in early},
                    early,
                    now,
                    {sid: traces.get(accepted[sid][0]) or NO_TRACE for sid in early},
                )
        return outgoing


def conversation_failures(deliveries: list[Delivery], now: datetime) -> list[Failure]:
    """What deliveries change on their conversations: one that failed is its last delivery
    failure. (The last outbound time is the executor's: it writes it when it asks for the
    message, with the rest of its batch.)"""
    failed: list[Failure] = []
    for d in deliveries:
        conversation = d.record.get("conversation_id")
        if not conversation or d.message is None or d.error is None:
            continue
        ref = conversation_ref(d.record["tenant_id"], conversation)
        failed.append(Failure(ref, d.message["_id"], "failed", d.error.on_message(), now))
    return failed
