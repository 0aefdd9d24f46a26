"""The tenants' outbound webhooks: conversation events from the topics where they are already
published become deliveries (``WebhookEvents``, the consumers), and deliveries are POSTed,
signed, and retried with back-off until delivered or given up (``WebhookDispatcher``, a
background loop). Deliveries are documents in MongoDB, so a pending one outlives a restart.

Sources: a customer's message (TriggerReceived with a message, consumed from
``connectflo.triggers.v1``, only the records of tenants that have endpoints decoded:
``select``); and, where the notifier itself publishes or consumes them, an outbound message
that went out (ReplySent) and a failed delivery (DeliveryFailed), both ``on_published``, and a
provider's delivery status report (DeliveryStatusReported, ``on_events`` from its consumer).
Those three need no consumer of their own: the notifier's handlers store the deliveries before
their offsets are committed, and a redelivered batch publishes, and so stores, the same
events again (stored once, by event id)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts import Envelope
from contracts.events import ConversationAssigned, DeliveryFailed, Event, ReplySent
from opentelemetry.trace import SpanKind
from servicekit import signing
from servicekit.delivery import Consumed
from servicekit.sealing import SealingError

from notifier.adapters.webhook_deliveries import WebhookDeliveries
from notifier.adapters.webhook_endpoints import WebhookEndpoints
from notifier.domain.webhooks import (
    FAILED,
    Attempt,
    Outcome,
    RetryPolicy,
    abandoned,
    after_attempt,
    attempt_entry,
    delivery_document,
    events_of,
    subscribed,
)
from notifier.publishing import SOURCE, Outgoing
from notifier.telemetry import WEBHOOK_ATTEMPTS, WEBHOOK_EVENTS, tracer

log = logging.getLogger(__name__)
Document = dict[str, Any]
EVENT_ID_HEADER = "X-ConnectFlo-Event-Id"
EVENT_TYPE_HEADER = "X-ConnectFlo-Event-Type"
DELIVERY_ID_HEADER = "X-ConnectFlo-Delivery-Id"
ATTEMPT_HEADER = "X-ConnectFlo-Delivery-Attempt"
SIGNATURE_HEADER = "X-ConnectFlo-Signature"


class Sender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt: ...


class WebhookEvents:
    """The consumers' handler: the batch's webhook events, each stored once per subscribed
    endpoint of its tenant (one read per tenant, kept a second; one write), then the
    dispatcher is woken. Events of tenants without endpoints cost nothing more."""

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        deliveries: WebhookDeliveries,
        wake: Callable[[], None],
    ) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._wake = wake

    async def select(self, records: list[Consumed]) -> list[Consumed]:
        """The records of tenants that have endpoints (by the ``tenant_id`` header, before
        anything is decoded): most tenants have none, and their messages cost nothing more."""
        tenants = {r.headers.get("tenant_id", "") for r in records}
        having = await self._endpoints.of_tenants(tenants)
        return [r for r in records if having.get(r.headers.get("tenant_id", ""))]

    async def on_published(self, outgoing: list[Outgoing]) -> None:
        """What the notifier published (ReplySent, DeliveryFailed, ConversationAssigned) as
        webhook events."""
        kinds = ReplySent | DeliveryFailed | ConversationAssigned
        wanted = [o for o in outgoing if isinstance(o.event, kinds)]
        if not wanted:
            return
        having = await self._endpoints.of_tenants({o.tenant_id for o in wanted})
        envelopes: list[Envelope[Event]] = [
            Envelope.wrap(o.event, source=SOURCE, tenant_id=o.tenant_id)
            for o in wanted
            if having.get(o.tenant_id)
        ]
        if envelopes:
            await self.on_events(envelopes)

    async def on_events(self, envelopes: list[Envelope[Event]]) -> None:
        events = [e for envelope in envelopes for e in events_of(envelope)]
        if not events:
            return
        endpoints = await self._endpoints.of_tenants({e.tenant_id for e in events})
        now = datetime.now(UTC)
        docs = [
            delivery_document(endpoint, event, now)
            for event in events
            for endpoint in endpoints.get(event.tenant_id, [])
            if subscribed(endpoint, event)
        ]
        if not docs:
            return
        new = await self._deliveries.insert(docs)
        for doc in docs:
            WEBHOOK_EVENTS.labels(doc["event_type"]).inc()
        if new:
            self._wake()


class WebhookDispatcher:
    """Attempts the due deliveries: each claimed for a lease (so two processes do not both
    send it), signed with its endpoint's secret at the time of the attempt, POSTed, and its
    outcome written: delivered (2xx), retried later (any other answer, a timeout, a
    connection error), failed (out of attempts or time, or the endpoint answered 410 Gone,
    which also disables the endpoint)."""

    def __init__(
        self,
        endpoints: WebhookEndpoints,
        deliveries: WebhookDeliveries,
        sender: Sender,
        policy: RetryPolicy,
        *,
        poll_seconds: float,
        lease_seconds: float,
        batch: int = 50,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._sender = sender
        self._policy = policy
        self._poll = poll_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._batch = batch
        self._draw = draw
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Deliveries were stored: look for due ones now rather than at the next poll."""
        self._woken.set()

    async def run(self) -> None:
        while True:
            try:
                handled = await self.round()
            except Exception:  # MongoDB away: try again at the next poll
                log.exception("webhook dispatch round failed")
                handled = 0
            if handled >= self._batch:
                continue  # more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._poll)
            self._woken.clear()

    async def round(self) -> int:
        """Attempt what is due now (up to a batch), all at once; how many were due."""
        now = datetime.now(UTC)
        due = await self._deliveries.due(now, self._batch)
        if not due:
            return 0
        ids = sorted({d["endpoint_id"] for d in due})
        found = await asyncio.gather(*(self._endpoints.get(i) for i in ids))
        endpoints = dict(zip(ids, found, strict=True))
        await asyncio.gather(*(self._one(d, endpoints[d["endpoint_id"]], now) for d in due))
        return len(due)

    async def _one(self, delivery: Document, endpoint: Document | None, now: datetime) -> None:
        if endpoint is None or not endpoint.get("active"):
            reason = "endpoint deleted" if endpoint is None else "endpoint disabled"
            await self._deliveries.record(delivery["_id"], abandoned(delivery, reason, now), None)
            WEBHOOK_ATTEMPTS.labels("abandoned").inc()
            return
        if not await self._deliveries.claim(delivery, now + self._lease):
            return  # another process has it
        attempt = await self._attempt(delivery, endpoint)
        at = datetime.now(UTC)
        outcome, fields = after_attempt(delivery, attempt, at, self._policy, self._draw())
        entry = attempt_entry(fields["attempts"], attempt, at)
        await self._deliveries.record(delivery["_id"], fields, entry)
        if outcome is Outcome.DISABLE:
            await self._endpoints.disable(endpoint["_id"], "the endpoint answered 410 Gone", at)
        gave_up = outcome is Outcome.RETRY and fields.get("status") == FAILED
        WEBHOOK_ATTEMPTS.labels("failed" if gave_up else outcome.value).inc()

    async def _attempt(self, delivery: Document, endpoint: Document) -> Attempt:
        body = str(delivery["body"]).encode()
        number = int(delivery.get("attempts", 0)) + 1
        try:
            secret = self._endpoints.secret_of(endpoint)
        except SealingError as exc:
            return Attempt(None, 0.0, f"the endpoint's secret cannot be opened: {exc}")
        timestamp = int(datetime.now(UTC).timestamp())
        headers = {
            EVENT_ID_HEADER: delivery["event_id"],
            EVENT_TYPE_HEADER: delivery["event_type"],
            DELIVERY_ID_HEADER: delivery["_id"],
            ATTEMPT_HEADER: str(number),
            SIGNATURE_HEADER: signing.signature_header(secret.reveal(), timestamp, body),
        }
        with tracer.start_as_current_span("POST webhook", kind=SpanKind.CLIENT) as span:
            span.set_attribute("connectflo.tenant_id", delivery["tenant_id"])
            span.set_attribute("connectflo.webhook.endpoint_id", endpoint["_id"])
            span.set_attribute("connectflo.webhook.event_type", delivery["event_type"])
            span.set_attribute("connectflo.webhook.attempt", number)
            attempt = await self._sender.post(str(endpoint["url"]), body, headers)
            if attempt.status_code is not None:
                span.set_attribute("http.response.status_code", attempt.status_code)
        return attempt
