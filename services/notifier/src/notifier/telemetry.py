"""The notifier's spans and metrics (set-up and propagation are the kit's)."""

from __future__ import annotations

from prometheus_client import Counter
from servicekit.telemetry import tracer as _tracer

SERVICE_NAME = "notifier"
tracer = _tracer(SERVICE_NAME)

DELIVERIES = Counter(
    "connectflo_deliveries_total",
    "Deliveries to people by channel and outcome: delivered (a chat reply published), sent "
    "(accepted by the provider), failed, duplicate (a redelivered request answered from its "
    "record).",
    ["channel", "outcome"],
)
DELIVERY_REPORTS = Counter(
    "connectflo_delivery_reports_total",
    "Providers' status reports by provider and how their message was found: named by the "
    "callback (named), by the provider's id (matched), or not (kept: stored unapplied); waited: "
    "a report that waited for its message's send to be answered.",
    ["provider", "outcome"],
)
WEBHOOK_EVENTS = Counter(
    "connectflo_webhook_events_total",
    "Webhook events stored for delivery to a tenant's endpoint, by event type (one per "
    "subscribed endpoint).",
    ["event_type"],
)
WEBHOOK_ATTEMPTS = Counter(
    "connectflo_webhook_attempts_total",
    "Webhook delivery attempts by outcome: delivered (2xx), retry (to be tried again), failed "
    "(given up: out of attempts or time), disable (410 Gone: the endpoint is disabled), "
    "refused (a non-public address), abandoned (the endpoint was deleted or disabled).",
    ["outcome"],
)
ASSIGNMENTS = Counter(
    "connectflo_assignments_total",
    "The agent router's decisions by outcome: assigned (an agent got a conversation, at once "
    "or from a queue), released, approval (an approval item opened), refused (no such queue), "
    "duplicate (a redelivered request answered from its assignment).",
    ["outcome"],
)
