"""The integrations' spans and metrics (set-up and propagation are the kit's)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from servicekit.telemetry import tracer as _tracer

SERVICE_NAME = "integrations"
tracer = _tracer(SERVICE_NAME)

CALLS = Counter(
    "connectflo_integration_calls_total",
    "Integration requests answered, by integration and outcome (ok or the error type).",
    ["integration", "outcome"],
)
CALL_DURATION = Histogram(
    "connectflo_integration_call_duration_seconds",
    "Time to perform an integration call (the provider's answer included), by integration.",
    ["integration"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ATTEMPTS = Histogram(
    "connectflo_integration_call_attempts",
    "Attempts a call took (transient errors retried inside the service), by integration.",
    ["integration"],
    buckets=(0, 1, 2, 3, 4, 6, 10),
)
