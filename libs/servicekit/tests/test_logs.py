"""Logs: one JSON object a line, naming the service, the logger, the current trace and the
execution; a noisy library's repeated line let through ``burst`` times per window, with the
count of what was left out; our own lines never left out."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from servicekit import logs


def handler(burst: int = 3, window: float = 30.0) -> tuple[logging.Handler, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter("executor"))
    handler.addFilter(logs.RateLimit(burst=burst, window=window))
    return handler, out


def emit(handler: logging.Handler, logger: str, message: str, *args: Any) -> None:
    record = logging.LogRecord(logger, logging.WARNING, __file__, 1, message, args, None)
    handler.handle(record)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_is_json_with_level_service_logger_and_message() -> None:
    h, out = handler()
    emit(h, "executor.runtime", "batch of %d failed", 3)
    [line] = lines(out)
    assert {k: line[k] for k in ("level", "service", "logger", "message")} == {
        "level": "warning",
        "service": "executor",
        "logger": "executor.runtime",
        "message": "batch of 3 failed",
    }
    assert "trace_id" not in line and "execution_id" not in line


def test_a_line_names_the_current_trace_and_execution() -> None:
    h, out = handler()
    tracer = TracerProvider().get_tracer("test")
    token = logs.execution_id.set("exe_42")
    try:
        with tracer.start_as_current_span("node send_reply") as span:
            emit(h, "executor.runtime", "stepped")
    finally:
        logs.execution_id.reset(token)
    emit(h, "executor.runtime", "after")
    inside, after = lines(out)
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert inside["execution_id"] == "exe_42"
    assert "trace_id" not in after and "execution_id" not in after


def test_a_noisy_library_line_is_let_through_burst_times_a_window_then_counted() -> None:
    h, out = handler(burst=3, window=0.2)
    for _ in range(10):
        emit(h, "aiokafka.conn", "Unable to connect to node %s", 1)
    assert len(lines(out)) == 3
    time.sleep(0.25)
    emit(h, "aiokafka.conn", "Unable to connect to node %s", 1)
    last = lines(out)[-1]
    assert len(lines(out)) == 4 and last["suppressed_since_last"] == 7


def test_another_message_of_the_library_has_its_own_burst() -> None:
    h, out = handler(burst=2)
    for _ in range(5):
        emit(h, "aiokafka.conn", "Unable to connect to node %s", 1)
        emit(h, "aiokafka.cluster", "Metadata refresh failed")
    assert len(lines(out)) == 4


def test_our_own_lines_are_never_left_out() -> None:
    h, out = handler(burst=2)
    for n in range(50):
        emit(h, "executor.runtime", "step %d", n)
    assert len(lines(out)) == 50


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configure_logging_sends_every_logger_to_stderr_as_json(
    root_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    logs.configure_logging("scheduler", "INFO")
    logging.getLogger("scheduler.service").info("firing timers of partitions %s", [0])
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("scheduler.service").debug("below the level")
    parsed = lines(err)
    assert [(p["logger"], p["service"], p["level"]) for p in parsed] == [
        ("scheduler.service", "scheduler", "info"),
        ("uvicorn.error", "scheduler", "info"),
    ]
