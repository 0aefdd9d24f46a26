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
    "Providers' status reports by provider and whether their message was found (matched) or "
    "the report kept until its message's provider id is written (kept).",
    ["provider", "outcome"],
)
