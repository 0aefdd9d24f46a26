"""The tenants' outbound webhooks, decided without I/O: which Kafka events become which webhook
events (``events_of``), which endpoints get one (``subscribed``), the delivery document, the
retry schedule (exponential back-off with jitter, capped in delay, attempts and age) and what
one attempt's answer means (``outcome_of``). The clock and the random draw come in."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from contracts import Envelope
from contracts.conversations import inbound_message_id
from contracts.events import (
    ConversationAssigned,
    DeliveryFailed,
    DeliveryStatusReported,
    Event,
    ReplySent,
    TriggerReceived,
)
from contracts.webhooks import (
    CONVERSATION_ASSIGNED,
    MESSAGE_FAILED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    MESSAGE_STATUS_UPDATED,
    WebhookEvent,
)

Document = dict[str, Any]
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MAX_LOGGED_ERROR = 300


def event_id(event_type: str, source_id: str) -> str:
    """The same for every delivery of one fact (a redelivered Kafka record, a trigger passed
    back to its topic): what receivers and the deliveries' ids deduplicate on."""
    return "evt_" + hashlib.sha256(f"{event_type}:{source_id}".encode()).hexdigest()[:24]


def delivery_id(endpoint_id: str, event: str) -> str:
    return "whd_" + hashlib.sha256(f"{endpoint_id}:{event}".encode()).hexdigest()[:24]


def events_of(envelope: Envelope[Event]) -> list[WebhookEvent]:
    """The webhook events a consumed event stands for (none for most)."""
    event, at, tenant = envelope.data, envelope.time, envelope.tenant_id
    if isinstance(event, TriggerReceived) and event.message is not None:
        message = event.message
        data: Document = {
            "message_id": inbound_message_id(event.trigger_id),
            "conversation_id": event.conversation_id,
            "channel": event.channel,
            "direction": "inbound",
            "body": message.body,
            "media": [m.model_dump() for m in message.media],
            "from": message.contact_address,
            "to": message.tenant_address,
            "provider": message.provider,
            "provider_message_id": message.provider_message_id,
            "customer": event.customer,
            "trigger_id": event.trigger_id,
            "received_at": event.received_at.isoformat(),
        }
        return [_event(MESSAGE_RECEIVED, event.trigger_id, at, tenant, data)]
    if isinstance(event, ReplySent):
        data = {
            "message_id": event.message_id,
            "conversation_id": event.conversation_id,
            "channel": event.channel,
            "direction": "outbound",
            "body": event.message,
            "provider_message_id": event.provider_message_id,
            "execution_id": event.execution_id,
            "notification_id": event.notification_id,
            "sent_at": event.sent_at.isoformat(),
        }
        return [_event(MESSAGE_SENT, event.notification_id, at, tenant, data)]
    if isinstance(event, DeliveryStatusReported):
        data = {
            "provider": event.provider,
            "provider_message_id": event.provider_message_id,
            "status": event.status,
            "error_code": event.error_code,
            "error_message": event.error_message,
            "reported_at": event.reported_at.isoformat(),
        }
        return [_event(MESSAGE_STATUS_UPDATED, event.event_id, at, tenant, data)]
    if isinstance(event, DeliveryFailed):
        data = {
            "message_id": event.message_id,
            "conversation_id": event.conversation_id,
            "channel": event.channel,
            "status": event.status,
            "error": event.error,
            "provider": event.provider,
            "provider_message_id": event.provider_message_id,
            "execution_id": event.execution_id,
            "node_id": event.node_id,
            "failed_at": event.failed_at.isoformat(),
        }
        return [_event(MESSAGE_FAILED, event.failure_id, at, tenant, data)]
    if isinstance(event, ConversationAssigned):
        data = event.model_dump(mode="json", exclude={"tenant_id"})
        return [_event(CONVERSATION_ASSIGNED, event.assignment_id, at, tenant, data)]
    return []


def _event(kind: str, source_id: str, at: datetime, tenant: str, data: Document) -> WebhookEvent:
    return WebhookEvent(
        id=event_id(kind, source_id), type=kind, created_at=at, tenant_id=tenant, data=data
    )


def subscribed(endpoint: Document, event: WebhookEvent) -> bool:
    """An active endpoint that takes this type and existed when the event happened (a new
    endpoint does not get what a consumer reads from before it was made)."""
    return (
        bool(endpoint.get("active"))
        and event.type in (endpoint.get("event_types") or ())
        and event.created_at >= endpoint["created_at"]
    )


def body_of(event: WebhookEvent) -> str:
    """The exact text POSTed (and signed): compact JSON, kept with the delivery so every
    attempt sends the same bytes."""
    return json.dumps(event.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)


def delivery_document(endpoint: Document, event: WebhookEvent, now: datetime) -> Document:
    """A delivery of ``event`` to ``endpoint``, due at once."""
    return {
        "_id": delivery_id(endpoint["_id"], event.id),
        "tenant_id": endpoint["tenant_id"],
        "endpoint_id": endpoint["_id"],
        "event_id": event.id,
        "event_type": event.type,
        "body": body_of(event),
        "status": PENDING,
        "attempts": 0,
        "attempt_log": [],
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


@dataclass(frozen=True)
class RetryPolicy:
    """Delay after the n-th failed attempt: ``base * 2**(n-1)`` capped at ``max_delay``, the
    upper half of it drawn at random (so receivers that failed together are not hit together
    again); given up after ``max_attempts`` or once the next attempt would come later than
    ``max_age`` after the event."""

    base_seconds: float = 5.0
    max_delay_seconds: float = 3600.0
    max_attempts: int = 30
    max_age_seconds: float = 24 * 3600.0

    def delay(self, attempts: int, draw: float) -> float:
        """Seconds before the next attempt once ``attempts`` (>= 1) failed; ``draw`` in
        [0, 1)."""
        exponent = min(attempts - 1, 62)
        ceiling = min(self.max_delay_seconds, self.base_seconds * float(2**exponent))
        return ceiling / 2 + ceiling / 2 * draw

    def next_attempt(
        self, attempts: int, created_at: datetime, now: datetime, draw: float
    ) -> datetime | None:
        """When to try again after ``attempts`` failed ones; None: give up."""
        if attempts >= self.max_attempts:
            return None
        at = now + timedelta(seconds=self.delay(attempts, draw))
        if at > created_at + timedelta(seconds=self.max_age_seconds):
            return None
        return at


class Outcome(StrEnum):
    DELIVERED = "delivered"  # 2xx
    DISABLE = "disable"  # 410 Gone: the receiver wants no more; the endpoint is disabled
    RETRY = "retry"  # any other answer, a timeout, a connection error
    REFUSED = "refused"  # not sent: the URL's address is not one we send to


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: the answer's status (None: no answer) and how long it took."""

    status_code: int | None
    duration_ms: float
    error: str | None = None
    refused: bool = False


def outcome_of(attempt: Attempt) -> Outcome:
    if attempt.refused:
        return Outcome.REFUSED
    code = attempt.status_code
    if code is not None and 200 <= code < 300:
        return Outcome.DELIVERED
    if code == 410:
        return Outcome.DISABLE
    return Outcome.RETRY


def attempt_entry(number: int, attempt: Attempt, at: datetime) -> Document:
    """One line of a delivery's attempt log (no headers, no signature, no secret)."""
    error = attempt.error
    if error is not None and len(error) > MAX_LOGGED_ERROR:
        error = error[:MAX_LOGGED_ERROR] + "..."
    return {
        "attempt": number,
        "at": at,
        "status_code": attempt.status_code,
        "duration_ms": round(attempt.duration_ms, 1),
        "error": error.replace("\x00", "\ufffd") if error else None,
    }


def after_attempt(
    delivery: Document,
    attempt: Attempt,
    now: datetime,
    policy: RetryPolicy,
    draw: float,
) -> tuple[Outcome, Document]:
    """The attempt's outcome and the fields it sets on the delivery."""
    number = int(delivery.get("attempts", 0)) + 1
    outcome = outcome_of(attempt)
    fields: Document = {
        "attempts": number,
        "last_status_code": attempt.status_code,
        "last_error": attempt_entry(number, attempt, now)["error"],
        "last_attempt_at": now,
        "updated_at": now,
    }
    if outcome is Outcome.DELIVERED:
        fields.update(status=DELIVERED, delivered_at=now, next_attempt_at=None)
    elif outcome is Outcome.RETRY:
        next_at = policy.next_attempt(number, delivery["created_at"], now, draw)
        if next_at is None:
            fields.update(status=FAILED, next_attempt_at=None, failed_at=now)
        else:
            fields.update(next_attempt_at=next_at)
    else:  # 410 disables the endpoint; a refused address will not change by retrying
        fields.update(status=FAILED, next_attempt_at=None, failed_at=now)
    return outcome, fields


def abandoned(delivery: Document, reason: str, now: datetime) -> Document:
    """The fields of a delivery given up without an attempt: its endpoint was deleted or
    disabled meanwhile."""
    return {
        "status": FAILED,
        "next_attempt_at": None,
        "failed_at": now,
        "last_error": reason,
        "updated_at": now,
    }
