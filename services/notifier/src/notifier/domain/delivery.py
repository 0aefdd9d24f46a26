"""What the notifier does with a request, decided without I/O: the route (a chat reply is
published, an SMS or WhatsApp message goes through the tenant's Twilio account, anything else
is not connected), the notification record (one per idempotency key, written before acting:
an SMS or WhatsApp message keeps it on itself, ``logged``), the message in the conversation's
log, its StatusCallback, and the answer the workflow gets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from contracts.events import STATUS_CALLBACK_MESSAGE_ID, NotificationRequested

from notifier.domain.email import is_email
from notifier.domain.errors import (
    ADDRESS_UNKNOWN,
    CHANNEL_NOT_CONNECTED,
    DeliveryError,
    failure,
)
from notifier.domain.lifecycle import NOTIFICATION, PENDING, rank
from notifier.domain.outbound import (
    CHAT_CHANNELS,
    SEND_REPLY,
    TWILIO_CHANNELS,
    Outbound,
    outbound_of,
)

Document = dict[str, Any]
CHAT_PROVIDER = "widget"
TWILIO = "twilio"


class Route(StrEnum):
    CHAT = "chat"  # published on the replies topic (the chat widget reads it)
    TWILIO = "twilio"  # sent with the tenant's Twilio account
    CHATOPS = "chatops"  # posted to the tenant's Slack or Teams (notifier.chatops_sending)
    EMAIL = "email"  # sent with the tenant's SendGrid channel (notifier.email_sending)
    NOT_CONNECTED = "not_connected"  # answered with ChannelNotConnected


@dataclass(frozen=True)
class Delivery:
    """A request's record, its message (None for kinds that send none), and, once decided,
    the result or error the execution gets back."""

    route: Route
    record: Document
    message: Document | None
    outbound: Outbound | None
    result: Document | None = None
    error: DeliveryError | None = None

    @property
    def key(self) -> str:
        return str(self.record["_id"])

    @property
    def reply_message(self) -> str | None:
        """The text a chat reply publishes."""
        return self.outbound.body if self.route is Route.CHAT and self.outbound else None


def notification_id(idempotency_key: str) -> str:
    return "ntf_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def message_id(idempotency_key: str) -> str:
    """Deterministic: a redelivered request logs its message once."""
    return "msg_" + hashlib.sha256(("out:" + idempotency_key).encode()).hexdigest()[:24]


def plan_delivery(request: NotificationRequested, now: datetime) -> Delivery:
    """Chat replies are delivered by publishing ReplySent; SMS and WhatsApp messages wait for
    their addresses and the tenant's account (``addressed``); anything else answers
    ChannelNotConnected, an error the workflow can route on."""
    key = request.idempotency_key
    record: Document = {
        "_id": key,
        "notification_id": notification_id(key),
        "tenant_id": request.tenant_id,
        "execution_id": request.execution_id,
        "effect_id": request.effect_id,
        "node_id": request.node_id,
        "kind": request.kind,
        "channel": request.channel,
        "conversation_id": request.conversation_id,
        "created_at": now,
    }
    if is_email(request):  # addressed with the tenant's channel (notifier.email_sending)
        record.update(message_id=message_id(key), channel="email", status=PENDING)
        return Delivery(Route.EMAIL, record, None, None)
    outbound = outbound_of(request)
    if outbound is None:
        error = failure(
            CHANNEL_NOT_CONNECTED,
            f"{request.kind} on channel {request.channel!r} is not connected yet",
        )
        return _failed(Delivery(Route.NOT_CONNECTED, record, None, None), error, now)
    record["message_id"] = message_id(key)
    record["channel"] = outbound.channel
    if request.kind == SEND_REPLY and outbound.channel in CHAT_CHANNELS:
        message = _message(request, outbound, CHAT_PROVIDER, "sent", now)
        result = _result(record, message)
        record.update(status="delivered", message=outbound.body, delivered_at=now, result=result)
        return Delivery(Route.CHAT, record, message, outbound, result=result)
    if outbound.channel in TWILIO_CHANNELS:
        record.update(status=PENDING, message=outbound.body)
        return Delivery(Route.TWILIO, record, None, outbound)
    error = failure(
        CHANNEL_NOT_CONNECTED, f"{request.kind} on channel {outbound.channel!r} is not connected"
    )
    message = _message(request, outbound, None, PENDING, now)
    return _failed(Delivery(Route.NOT_CONNECTED, record, message, outbound), error, now)


def addressed(
    delivery: Delivery,
    request: NotificationRequested,
    conversation: Document | None,
    numbers: list[str] | None,
    now: datetime,
) -> Delivery:
    """A Twilio delivery with its addresses and its message, ready to send: ``numbers`` are
    the tenant's connected numbers (None: no Twilio account connected), ``conversation`` its
    conversation document (the customer's and the tenant's addresses)."""
    assert delivery.outbound is not None
    outbound = delivery.outbound.addressed(conversation, numbers or [])
    message = _message(request, outbound, TWILIO, PENDING, now)
    ready = replace(delivery, outbound=outbound, message=message)
    if numbers is None:
        error = failure(CHANNEL_NOT_CONNECTED, "the tenant has connected no Twilio account")
        return _failed(ready, error, now)
    if not outbound.to or not outbound.from_:
        missing = "recipient ('to')" if not outbound.to else "sender ('from')"
        error = failure(
            ADDRESS_UNKNOWN,
            f"no {missing}: the request names none and its conversation has none",
        )
        return _failed(ready, error, now)
    return ready


def sent(delivery: Delivery, sid: str, status: str, now: datetime) -> Delivery:
    """The provider accepted the message (``sid``, its initial status: queued, accepted)."""
    assert delivery.message is not None
    message = {**delivery.message, "provider_message_id": sid}
    message = _moved(message, status, now)
    result = {**_result(delivery.record, message), "sid": sid}
    record = {
        **delivery.record,
        "status": "sent",
        "provider_message_id": sid,
        "sent_at": now,
        "result": result,
    }
    return replace(delivery, record=record, message=message, result=result)


def refused(delivery: Delivery, error: DeliveryError, now: datetime) -> Delivery:
    """The provider refused the message, or could not be reached."""
    return _failed(delivery, error, now)


_KEPT = ("effect_id", "kind", "status", "sending_process", "sent_at", "result", "error")
"""What a notification record has that its message has not."""


PROVIDER_ROUTES = frozenset({Route.TWILIO, Route.EMAIL})
"""The routes that send through a provider: recorded on their message before the send."""


def keeps_record(delivery: Delivery) -> bool:
    """An SMS, WhatsApp or email delivery keeps its notification record on its message: one
    write before the send, one after. The others keep theirs in ``notifications``."""
    return delivery.route in PROVIDER_ROUTES and delivery.message is not None


def logged(delivery: Delivery) -> Document:
    """The message as logged: an SMS or WhatsApp one with its notification record
    (``NOTIFICATION``: the idempotency key, the status pending with the process that sends it,
    then sent or failed with the result or error)."""
    assert delivery.message is not None
    if not keeps_record(delivery):
        return delivery.message
    record = delivery.record
    kept = {"idempotency_key": record["_id"], **{f: record[f] for f in _KEPT if f in record}}
    return {**delivery.message, NOTIFICATION: kept}


def recorded_on(message: Document) -> Document:
    """The notification record an SMS or WhatsApp message keeps (``logged``), as a
    redelivered request is answered from it."""
    kept = message[NOTIFICATION]
    return {
        "_id": kept["idempotency_key"],
        "notification_id": message["notification_id"],
        "tenant_id": message["tenant_id"],
        "execution_id": message["execution_id"],
        "node_id": message["node_id"],
        "channel": message["channel"],
        "conversation_id": message.get("conversation_id"),
        "created_at": message["created_at"],
        "message_id": message["_id"],
        "message": message["body"],
        "provider": message["provider"],
        "provider_message_id": message.get("provider_message_id"),
        **{f: kept[f] for f in _KEPT if f in kept},
    }


def status_callback(url: str, message_id: str) -> str:
    """A message's StatusCallback: the gateway's status webhook ``url`` naming the message
    (``STATUS_CALLBACK_MESSAGE_ID``). Twilio signs the URL with its query, so the report the
    gateway publishes names the message: recorded by its ``_id``, no lookup by provider id."""
    parts = urlsplit(url)
    named = urlencode({STATUS_CALLBACK_MESSAGE_ID: message_id})
    return urlunsplit(parts._replace(query="&".join(q for q in (parts.query, named) if q)))


def _failed(delivery: Delivery, error: DeliveryError, now: datetime) -> Delivery:
    record = {**delivery.record, "status": "failed", "error": error.for_workflow()}
    message = delivery.message
    if message is not None:
        message = _moved(message, "failed", now, error)
    return replace(delivery, record=record, message=message, error=error)


def _moved(
    message: Document, status: str, now: datetime, error: DeliveryError | None = None
) -> Document:
    entry: Document = {"status": status, "at": now}
    if error is not None:
        entry.update(error_code=error.code, error_message=error.message)
    return {
        **message,
        "status": status,
        "status_rank": rank(status),
        "status_history": [*message["status_history"], entry],
        "error": error.on_message() if error is not None else message.get("error"),
        "updated_at": now,
    }


def outbound_message(
    request: NotificationRequested,
    outbound: Outbound,
    provider: str | None,
    status: str,
    now: datetime,
) -> Document:
    """The message in the conversation's log, as a route that addresses it makes it."""
    return _message(request, outbound, provider, status, now)


def _message(
    request: NotificationRequested,
    outbound: Outbound,
    provider: str | None,
    status: str,
    now: datetime,
) -> Document:
    """The message in the conversation's log (``_id`` from the idempotency key)."""
    return {
        "_id": message_id(request.idempotency_key),
        "tenant_id": request.tenant_id,
        "conversation_id": request.conversation_id,
        "direction": "outbound",
        "channel": outbound.channel,
        "body": outbound.body,
        "media": [m.document() for m in outbound.media],
        "from": outbound.from_,
        "to": outbound.to,
        "provider": provider,
        "provider_message_id": None,
        "status": status,
        "status_rank": rank(status),
        "status_history": [{"status": status, "at": now}],
        "status_events": [],
        "error": None,
        "execution_id": request.execution_id,
        "node_id": request.node_id,
        "notification_id": notification_id(request.idempotency_key),
        "created_at": now,
        "updated_at": now,
    }


def _result(record: Document, message: Document) -> Document:
    return {
        "notification_id": record["notification_id"],
        "message_id": message["_id"],
        "status": "delivered" if message["provider"] == CHAT_PROVIDER else message["status"],
        "channel": message["channel"],
        "provider": message["provider"],
        "to": message["to"],
        "from": message["from"],
    }
