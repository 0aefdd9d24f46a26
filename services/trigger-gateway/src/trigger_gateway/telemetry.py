"""The gateway's tracer (set-up, propagation and HTTP metrics are the kit's)."""

from __future__ import annotations

from servicekit.telemetry import attributes, context_from, current_trace
from servicekit.telemetry import tracer as _tracer

__all__ = ["attributes", "context_from", "current_trace", "tracer"]

SERVICE_NAME = "trigger-gateway"
tracer = _tracer(SERVICE_NAME)
