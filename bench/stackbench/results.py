"""A phase's figures: completions/s, latency percentiles, MongoDB commands and Kafka messages per
workflow, CPU per process; and whether an open loop kept up."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from .phases import Phase
from .settings import CLK_TCK
from .workload import NODES_PER_WORKFLOW


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarise(
    phase: Phase,
    completed_at: dict[str, tuple[float, str]],
    background: dict[str, float],
    timeout: float,
) -> dict[str, Any]:
    """``completed_at``: execution id -> (when seen, event type); ``background``: MongoDB
    commands per second while idle, subtracted."""
    assert phase.before and phase.after
    accepted = [s for s in phase.samples if s.status == 202]
    latencies, failed, missing = [], 0, 0
    for s in accepted:
        done = completed_at.get(s.execution_id or "")
        if done is None or done[0] - s.scheduled > timeout:
            missing += 1
            continue
        if done[1] == "ExecutionFailed":
            failed += 1
        latencies.append((done[0] - s.scheduled) * 1000)
    latencies.sort()
    posts = sorted((s.answered - s.sent) * 1000 for s in accepted)
    completed = len(latencies)
    span = phase.ended_sending - phase.started
    # Throughput: completions per second over the sending window, the first seconds
    # (ramp-up) left out for closed loops.
    warm = min(3.0, span / 4) if phase.kind == "closed" else 0.0
    window_from, window_to = phase.started + warm, phase.ended_sending
    in_window = sum(
        1
        for t, _kind in (completed_at.get(s.execution_id or "", (0, "")) for s in accepted)
        if window_from <= t <= window_to
    )
    throughput = in_window / (window_to - window_from) if window_to > window_from else 0.0
    measured = phase.after.at - phase.before.at

    kafka = {
        topic: phase.after.offsets.get(topic, 0) - phase.before.offsets.get(topic, 0)
        for topic in phase.after.offsets
    }
    kafka = {t: n for t, n in kafka.items() if n}
    mongo_raw = {
        name: phase.after.mongo.get(name, 0) - phase.before.mongo.get(name, 0)
        for name in phase.after.mongo
    }
    mongo = {
        name: max(0.0, n - background.get(name, 0.0) * measured) for name, n in mongo_raw.items()
    }
    mongo = {name: n for name, n in mongo.items() if n >= 0.5}
    by_service: dict[str, dict[str, float]] = {}
    for service, counts in phase.after.mongo_by_service.items():
        earlier = phase.before.mongo_by_service.get(service, {})
        delta = {k: v - earlier.get(k, 0.0) for k, v in counts.items()}
        delta = {k: v for k, v in delta.items() if v}
        if delta:
            by_service[service] = delta
    cpu = {}
    for name, ticks in phase.after.cpu.items():
        first = phase.before.cpu.get(name)
        if ticks is None or first is None:
            continue
        seconds = (ticks - first) / CLK_TCK
        cpu[name] = {
            "percent": seconds / measured * 100,
            "ms_per_workflow": seconds * 1000 / completed if completed else math.nan,
        }
    per_wf = completed or math.nan
    total_mongo = sum(mongo.values())
    return {
        "phase": phase.name,
        "kind": phase.kind,
        "offered_per_s": phase.rate,
        "clients": phase.clients,
        "seconds_sending": round(span, 2),
        "sent": len(phase.samples),
        "accepted": len(accepted),
        "http_errors": len(phase.samples) - len(accepted),
        "http_error_statuses": dict(Counter(s.status for s in phase.samples if s.status != 202)),
        "completed": completed,
        "failed": failed,
        "not_completed": missing,
        "throughput_per_s": throughput,
        "latency_ms": {
            q: percentile(latencies, v)
            for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
        },
        "post_ms": {"p50": percentile(posts, 0.5), "p99": percentile(posts, 0.99)},
        "max_send_lag_ms": phase.max_lag * 1000,
        "cut_off_after_s": phase.cut_off,
        "max_in_flight": max(phase.in_flight, default=0),
        "in_flight_per_s": phase.in_flight,
        "kafka_messages": kafka,
        "kafka_messages_per_workflow": sum(kafka.values()) / per_wf,
        "mongo_commands": mongo,
        "mongo_commands_per_workflow": total_mongo / per_wf,
        "mongo_commands_per_node": total_mongo / per_wf / NODES_PER_WORKFLOW,
        "mongo_by_service": by_service,
        "cpu": cpu,
        "measured_seconds": round(measured, 2),
    }


def headline(phase: Phase) -> str:
    r = phase.result
    lat = r["latency_ms"]
    return (
        f"{phase.name:<12} sent {r['sent']:5d}  completed {r['completed']:5d}  "
        f"missing {r['not_completed']:3d}  {r['throughput_per_s']:6.1f} wf/s  "
        f"p50 {lat['p50']:6.1f}  p95 {lat['p95']:6.1f}  p99 {lat['p99']:6.1f} ms  "
        f"max in flight {r['max_in_flight']}"
        + (f"  HTTP errors {r['http_error_statuses']}" if r["http_errors"] else "")
    )


def keeps_up(r: dict[str, Any]) -> bool:
    """Completions kept pace: nothing lost, and no growing backlog (in flight at the end of the
    phase no more than ~1 s of triggers)."""
    flight = r["in_flight_per_s"]
    return (
        not r.get("cut_off_after_s")
        and r["not_completed"] == 0
        and r["http_errors"] == 0
        and r["completed"] == r["sent"]
        and (not flight or flight[-1] <= max(10, (r["offered_per_s"] or 0) * 1.0))
    )
