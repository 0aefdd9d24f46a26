"""SMS and WhatsApp messages of a batch: their addresses and the tenants' accounts read at once,
then sent together through Twilio, each with a StatusCallback naming it, then what Twilio
answered written at once: one write per message before the send, one after.

A message is sent only after it is logged with its notification record (``pending``, with the
process that will send it); a redelivered request whose record is still ``pending`` from
another process (that one stopped while sending: Twilio may or may not have the message) is
not sent again but answered ``DeliveryInterrupted``, so a message is never sent twice.

The status reports of a message name it (its StatusCallback does): one that overtakes the
create's answer waits for it to be written (notifier.delivery_status); none is looked for
here. Without ``status_callback_url`` Twilio reports nothing."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contracts.conversations import conversation_ref
from contracts.events import NotificationRequested

from notifier.adapters.conversations import ConversationUpdates, Failure
from notifier.adapters.messages import MessageLog
from notifier.adapters.twilio_accounts import TwilioAccount, TwilioAccounts
from notifier.adapters.twilio_client import MessageSender, SendFailed
from notifier.domain.delivery import (
    TWILIO,
    Delivery,
    Route,
    addressed,
    logged,
    refused,
    sent,
    status_callback,
)
from notifier.domain.errors import DeliveryError, interruption
from notifier.domain.lifecycle import ours_to_send

log = logging.getLogger(__name__)
Document = dict[str, Any]


class TwilioSending:
    def __init__(
        self,
        accounts: TwilioAccounts,
        conversations: ConversationUpdates,
        messages: MessageLog,
        sender: MessageSender,
        *,
        status_callback_url: str | None,
    ) -> None:
        self._accounts = accounts
        self._conversations = conversations
        self._messages = messages
        self._sender = sender
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
        return ours_to_send(earlier, self.process)

    def interrupted(self, delivery: Delivery, now: datetime) -> Delivery:
        """A redelivered request whose send another process started and did not finish."""
        self._accounts_of.pop(delivery.key, None)
        return refused(delivery, interruption("sending this message", "sent"), now)

    async def send(self, deliveries: list[Delivery], now: datetime) -> list[Delivery]:
        """Each delivery sent (at once, bounded by the sender's concurrency): sent or refused."""

        async def one(delivery: Delivery) -> Delivery:
            account = self._accounts_of.pop(delivery.key)
            assert delivery.outbound is not None and delivery.message is not None
            callback = self._status_callback
            if callback is not None:
                callback = status_callback(callback, delivery.message["_id"])
            try:
                answer = await self._sender.send(account, delivery.outbound, callback)
            except SendFailed as exc:
                return refused(delivery, exc.error, now)
            return sent(delivery, answer.sid, answer.status, now)

        return list(await asyncio.gather(*(one(d) for d in deliveries)))

    async def record(self, deliveries: list[Delivery], now: datetime) -> None:
        """What the sends became, in one round: the messages with their records (each while
        it is pending: the first answer wins), the conversations of those that failed."""
        if deliveries:
            await asyncio.gather(
                self._messages.record_sent([logged(d) for d in deliveries]),
                self._conversations.record_failures(conversation_failures(deliveries, now)),
            )


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
