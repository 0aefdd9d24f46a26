"""The scheduler's spans and the Prometheus metrics of timers (set-up and propagation are the
kit's: servicekit.telemetry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from servicekit.telemetry import (
    attributes,
    consuming,
    context_from,
    current_trace,
    producing_attributes,
)
from servicekit.telemetry import tracer as _tracer

__all__ = [
    "attributes",
    "consuming",
    "context_from",
    "current_trace",
    "producing_attributes",
    "tracer",
]

SERVICE_NAME = "scheduler"
tracer = _tracer(SERVICE_NAME)

# Prometheus metrics (served on /metrics).
TIMERS_STORED = Counter("connectflo_scheduler_timers_stored_total", "Timers stored (first time).")
TIMERS_FIRED = Counter(
    "connectflo_scheduler_timers_fired_total", "Timers fired: EffectSettled published."
)
TIMERS_CANCELLED = Counter(
    "connectflo_scheduler_timer_cancels_total",
    "Timer cancels, by outcome: cancelled, tombstone (before its request), too_late, repeated.",
    ["outcome"],
)
TIMER_LATENESS = Histogram(
    "connectflo_scheduler_timer_lateness_seconds",
    "How long after its due time a timer fired (fired_at - fire_at).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
OWNED_PARTITIONS = Gauge(
    "connectflo_scheduler_owned_partitions",
    "Partitions of the timers topic this replica owns (fires the timers of).",
)
SCHEDULE_FIRES = Counter(
    "connectflo_scheduler_schedule_fires_total",
    "Workflow schedules fired: a Scheduled TriggerReceived published.",
)
SCHEDULE_SKIPPED = Counter(
    "connectflo_scheduler_schedule_skipped_fires_total",
    "Fire times a schedule's catch-up policy left out after downtime.",
)
SCHEDULE_LATENESS = Histogram(
    "connectflo_scheduler_schedule_lateness_seconds",
    "How long after its planned time a schedule fired.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
ACTIVE_SCHEDULES = Gauge(
    "connectflo_scheduler_active_schedules",
    "Active workflow schedules of the partitions this replica owns.",
)
SLA_CROSSINGS = Counter(
    "connectflo_scheduler_sla_crossings_total",
    "SLA clock crossings announced (SlaClockCrossed and its trigger), by kind and metric.",
    ["kind", "metric"],
)
SLA_ANNOUNCE_LATENESS = Histogram(
    "connectflo_scheduler_sla_announce_lateness_seconds",
    "How long after a clock crossed its threshold the crossing was announced.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
SLA_LOOKS = Counter(
    "connectflo_scheduler_sla_looks_total", "Conversations whose SLA clocks were reckoned."
)
SLA_LOOK_SECONDS = Histogram(
    "connectflo_scheduler_sla_look_seconds",
    "Time to reckon one conversation's clocks (reads included) and announce what they crossed.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
SLA_KEPT = Gauge(
    "connectflo_scheduler_sla_kept_conversations",
    "Conversations this replica keeps SLA clocks of (a crossing still to announce).",
)
WATCHDOG_FINDINGS = Counter(
    "connectflo_watchdog_findings_total",
    "What the watchdog found, by kind (not_started, no_progress, unwakeable, overdue, "
    "group_stalled) and action (resend, fail, reported).",
    ["kind", "action"],
)
WATCHDOG_STUCK = Gauge(
    "connectflo_watchdog_stuck_executions",
    "Executions the watchdog's last scan found stuck (a repair or a failure requested).",
)
WATCHDOG_STALLED_GROUPS = Gauge(
    "connectflo_watchdog_stalled_groups",
    "Consumer groups with records waiting and no members, at the last check.",
)
WATCHDOG_SCAN_SECONDS = Histogram(
    "connectflo_watchdog_scan_seconds",
    "How long one watchdog scan took (its reads, records and sends).",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
