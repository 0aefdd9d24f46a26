"""Emails of a batch (Send Email, the SendGrid node, Send Reply on channel ``email``): the
tenants' SendGrid channels read at once (and, for replies, the conversations' last emails: the
thread), then sent together through SendGrid, then what it answered written at once: one write
per message before the send, one after, as for SMS (notifier.sending).

A message is sent only after it is logged with its notification record (``pending``, with the
process that sends it); a redelivered request whose record is still ``pending`` from another
process is answered ``DeliveryInterrupted``, not sent again: SendGrid's Mail Send takes no
idempotency key, so an email goes out at most once per idempotency key.

Each email names its message three ways, so everything about it comes back to it: its
Message-ID header (a customer's reply names it: the gateway threads the reply), its
``custom_args`` (SendGrid's events carry them: the status consumer records them by message id)
and its X-Message-Id (SendGrid's, kept as the provider's message id)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts.events import NotificationRequested

from notifier.adapters.attachments import AttachmentFetcher
from notifier.adapters.conversations import ConversationUpdates
from notifier.adapters.email_threads import EmailThreads
from notifier.adapters.messages import MessageLog
from notifier.adapters.sendgrid_accounts import SendGridAccount, SendGridAccounts
from notifier.adapters.sendgrid_client import MailSender
from notifier.adapters.twilio_client import SendFailed
from notifier.domain.delivery import Delivery, Route, logged, outbound_message, refused, sent
from notifier.domain.email import (
    IDEMPOTENCY_ARG,
    MESSAGE_ID_ARG,
    TENANT_ARG,
    EmailContent,
    email_content,
    mail_body,
    message_id_header,
    outbound_of_email,
    problem,
    threaded,
)
from notifier.domain.errors import (
    CHANNEL_NOT_CONNECTED,
    INVALID_MESSAGE,
    DeliveryError,
    failure,
    interruption,
)
from notifier.domain.lifecycle import PENDING, ours_to_send
from notifier.sending import conversation_failures

SENDGRID = "sendgrid"
ACCEPTED = "accepted"  # SendGrid's 202: queued for processing
Document = dict[str, Any]


class EmailSending:
    def __init__(
        self,
        accounts: SendGridAccounts,
        threads: EmailThreads,
        conversations: ConversationUpdates,
        messages: MessageLog,
        sender: MailSender,
        attachments: AttachmentFetcher | None = None,
    ) -> None:
        """``attachments``: fetches attachments given by URL (None: such an email is refused,
        InvalidMessage)."""
        self._accounts = accounts
        self._threads = threads
        self._conversations = conversations
        self._messages = messages
        self._sender = sender
        self._attachments = attachments
        self.process = uuid.uuid4().hex[:12]
        self._ready: dict[str, tuple[SendGridAccount, EmailContent]] = {}

    async def address(
        self,
        requests: Sequence[NotificationRequested],
        deliveries: list[Delivery],
        now: datetime,
    ) -> list[Delivery]:
        """Email deliveries with their sender, recipients and thread, or failed when the
        tenant has no channel or the email cannot be sent as asked."""
        wanted = [
            (r, d) for r, d in zip(requests, deliveries, strict=True) if d.route is Route.EMAIL
        ]
        replies = {
            (r.tenant_id, r.conversation_id)
            for r, _ in wanted
            if r.conversation_id and (content := email_content(r)) is not None and content.reply
        }
        accounts, threads = await asyncio.gather(
            self._accounts.for_tenants({r.tenant_id for r, _ in wanted}),
            self._threads.last_emails(replies),
        )
        out = []
        for request, delivery in zip(requests, deliveries, strict=True):
            if delivery.route is not Route.EMAIL:
                out.append(delivery)
                continue
            account = accounts.get(request.tenant_id)
            content = email_content(request) or EmailContent(to=())
            if content.reply:
                last = threads.get((request.tenant_id, request.conversation_id or ""))
                content = threaded(content, last)
                if not content.to and request.contact_address:
                    content = replace(content, to=(request.contact_address,))
            if isinstance(account, SendGridAccount):
                content = replace(
                    content,
                    from_email=content.from_email or account.from_email,
                    from_name=content.from_name or account.from_name,
                )
            ready = self._addressed(request, delivery, content, now)
            error: DeliveryError | None = None
            if account is None:
                error = failure(
                    CHANNEL_NOT_CONNECTED, "the tenant has connected no SendGrid channel"
                )
            elif isinstance(account, DeliveryError):
                error = account
            elif (why := problem(content)) is not None:
                error = failure(INVALID_MESSAGE, why)
            if error is not None:
                ready = refused(ready, error, now)
            else:
                assert isinstance(account, SendGridAccount)
                self._ready[ready.key] = (account, content)
                ready.record["sending_process"] = self.process
            ready.record["provider"] = SENDGRID
            out.append(ready)
        return out

    @staticmethod
    def _addressed(
        request: NotificationRequested, delivery: Delivery, content: EmailContent, now: datetime
    ) -> Delivery:
        outbound = outbound_of_email(request, content)
        message = outbound_message(request, outbound, SENDGRID, PENDING, now)
        message.update(
            subject=content.subject,
            cc=list(content.cc),
            bcc=list(content.bcc),
            html=content.html,
            template_id=content.template_id,
            in_reply_to=content.in_reply_to,
            email_message_id=message_id_header(message["_id"], content.from_email or ""),
        )
        record = {**delivery.record, "message": outbound.body}
        return replace(delivery, record=record, outbound=outbound, message=message)

    def may_send(self, delivery: Delivery, earlier: dict[str, object] | None) -> bool:
        """Ready, and recorded by this process (a first delivery, or one this process
        recorded and did not get to send)."""
        if delivery.route is not Route.EMAIL or delivery.error is not None:
            return False
        return ours_to_send(earlier, self.process)

    def interrupted(self, delivery: Delivery, now: datetime) -> Delivery:
        """A redelivered request whose send another process started and did not finish."""
        self._ready.pop(delivery.key, None)
        return refused(delivery, interruption("sending this email", "sent"), now)

    async def send(self, deliveries: list[Delivery], now: datetime) -> list[Delivery]:
        """Each email sent (at once, bounded by the sender's pool): sent or refused."""

        async def one(delivery: Delivery) -> Delivery:
            account, content = self._ready.pop(delivery.key)
            assert delivery.message is not None
            message = delivery.message
            try:
                content = await self._fetched(content)
            except SendFailed as exc:
                return refused(delivery, exc.error, now)
            body = mail_body(
                content,
                from_email=account.from_email if not content.from_email else content.from_email,
                from_name=content.from_name,
                reply_to=account.inbound_address,
                message_id_value=message["email_message_id"],
                custom_args={
                    MESSAGE_ID_ARG: message["_id"],
                    IDEMPOTENCY_ARG: delivery.key,
                    TENANT_ARG: account.tenant_id,
                },
            )
            try:
                provider_id = await self._sender.send(account, body)
            except SendFailed as exc:
                return refused(delivery, exc.error, now)
            return sent(delivery, provider_id, ACCEPTED, now)

        return list(await asyncio.gather(*(one(d) for d in deliveries)))

    async def _fetched(self, content: EmailContent) -> EmailContent:
        """The content with the attachments given by URL fetched."""
        if all(a.content is not None for a in content.attachments):
            return content
        if self._attachments is None:
            raise SendFailed(failure(INVALID_MESSAGE, "attachments by URL are not fetched here"))
        fetcher = self._attachments
        fetched = await asyncio.gather(*(fetcher.fetched(a) for a in content.attachments))
        return replace(content, attachments=tuple(fetched))

    async def record(self, deliveries: list[Delivery], now: datetime) -> None:
        """What the sends became, in one round (each message while its record is pending)."""
        if deliveries:
            await asyncio.gather(
                self._messages.record_sent([logged(d) for d in deliveries]),
                self._conversations.record_failures(conversation_failures(deliveries, now)),
            )
