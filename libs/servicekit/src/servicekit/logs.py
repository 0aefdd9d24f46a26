"""Logs: one JSON object a line on stderr, with level, service, logger, message, the trace and
span ids of the current span and the execution id where known; library reconnect noise rate
limited so an outage leaves a readable log."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

execution_id: ContextVar[str | None] = ContextVar("execution_id", default=None)
"""Set by a handler while it works on one execution; every log line then names it."""

NOISY_LOGGERS = ("aiokafka", "kafka", "pymongo")
"""Libraries that log every failed reconnect: during an 80 s broker outage aiokafka alone wrote
151,865 lines into the executor's log before these were rate limited."""


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        if (execution := execution_id.get()) is not None:
            line["execution_id"] = execution
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        suppressed = getattr(record, "suppressed", None)
        if suppressed:
            line["suppressed_since_last"] = suppressed
        return json.dumps(line, default=str)


class RateLimit(logging.Filter):
    """Per logger and message template: at most ``burst`` lines every ``window`` seconds; the
    next line let through says how many were left out meanwhile."""

    def __init__(self, burst: int = 5, window: float = 30.0) -> None:
        super().__init__()
        self._burst = burst
        self._window = window
        self._seen: dict[tuple[str, object], list[float]] = {}  # [window start, count, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(NOISY_LOGGERS):
            return True
        key = (record.name, record.msg)
        now = time.monotonic()
        state = self._seen.setdefault(key, [now, 0, 0])
        if now - state[0] >= self._window:
            record.suppressed = int(state[2])
            state[:] = [now, 0, 0]
        state[1] += 1
        if state[1] > self._burst:
            state[2] += 1
            return False
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (ours, uvicorn's, the libraries') to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RateLimit())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(logging.NOTSET)  # the service's level, whoever set one
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
