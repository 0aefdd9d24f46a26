"""The notifier's spans and metrics (set-up and propagation are the kit's)."""

from __future__ import annotations

from prometheus_client import Counter
from servicekit.telemetry import tracer as _tracer

SERVICE_NAME = "notifier"
tracer = _tracer(SERVICE_NAME)

DELIVERIES = Counter(
    "connectflo_deliveries_total",
    "Deliveries to people by channel and outcome: sent, failed, duplicate (a redelivered "
    "request answered from its record).",
    ["channel", "outcome"],
)
