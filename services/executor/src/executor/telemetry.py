"""The executor's spans and metrics: a span per command (``execution <command type>``) in the
execution's own trace, one per node run (``node <kind>``), and the counters of executions and
node runs. Set-up, propagation and the shared metrics are the kit's (servicekit.telemetry)."""

from __future__ import annotations

import functools
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from prometheus_client import Counter, Histogram
from servicekit.telemetry import attributes, context_from, current_trace, link_to
from servicekit.telemetry import tracer as _tracer

__all__ = [
    "context_from",
    "count_lifecycle",
    "current_trace",
    "link_to",
    "record_node_runs",
    "tracer",
]

SERVICE_NAME = "executor"
tracer = _tracer(SERVICE_NAME)

EXECUTIONS = Counter(
    "connectflo_executions_total",
    "Executions by trigger type and outcome: started, completed, failed, cancelled.",
    ["trigger_type", "outcome"],
)
NODE_RUNS = Counter(
    "connectflo_node_runs_total", "Node runs by node kind and status.", ["kind", "status"]
)
NODE_RUN_DURATION = Histogram(
    "connectflo_node_run_duration_seconds",
    "Time a node run took (its own work, not a wait), by node kind.",
    ["kind"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)


_OUTCOMES = {
    "ExecutionStarted": "started",
    "ExecutionCompleted": "completed",
    "ExecutionFailed": "failed",
    "ExecutionCancelled": "cancelled",
}


@functools.cache
def _executions(trigger_type: str, outcome: str) -> Counter:
    return EXECUTIONS.labels(trigger_type, outcome)


def count_lifecycle(trigger_type: str, outbox: list[dict[str, Any]]) -> None:
    """The lifecycle events a written execution sent (its outbox entries), counted."""
    for entry in outbox:
        outcome = _OUTCOMES.get(entry["headers"]["ce_type"])
        if outcome is not None:
            _executions(trigger_type, outcome).inc()


@functools.cache
def _node_run_series(kind: str, status: str) -> tuple[Counter, Histogram]:
    """The node-run counter's and duration histogram's children for one kind and status
    (labels() costs a lock and a lookup; a batch makes hundreds of node runs)."""
    return NODE_RUNS.labels(kind, status), NODE_RUN_DURATION.labels(kind)


def record_node_runs(node_runs: list[dict[str, Any]]) -> None:
    """Count every node run; and under a recorded command span, one span per run with the
    run's own times (none when the command span is not recorded: they would not be either)."""
    recording = trace.get_current_span().is_recording()
    for run in node_runs:
        count, duration = _node_run_series(run["kind"], run["status"])
        count.inc()
        duration.observe((run["finished_at"] - run["started_at"]).total_seconds())
        if not recording:
            continue
        span = tracer.start_span(
            f"node {run['kind']}",
            start_time=int(run["started_at"].timestamp() * 1e9),
            attributes=attributes(
                node_id=run["node_id"],
                node_kind=run["kind"],
                node_label=run.get("label"),
                node_status=run["status"],
            ),
        )
        if run["status"] == "failed":
            span.set_status(Status(StatusCode.ERROR, run.get("error") or "failed"))
        span.end(end_time=int(run["finished_at"].timestamp() * 1e9))
