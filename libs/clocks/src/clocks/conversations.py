"""A stored conversation's SLA clocks: the policy that applies, its rules, the timeline read
from the conversation's document and message log, and the clocks as the API shows them. The
gateway (a conversation's `sla`) and the scheduler's SLA keeper (the crossings it announces)
both reckon with this, so they agree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from contracts.sla import PRIORITIES, BusinessHours, SlaPolicySpec

from clocks.business import Calendar
from clocks.sla import METRICS, Clock, Rules, Timeline

Document = dict[str, Any]
UNDELIVERED = ("failed", "undelivered", "bounce", "dropped")  # outbound that answered nobody


def policy_for(
    policies: Iterable[tuple[str, SlaPolicySpec]], channel: str | None
) -> tuple[str, SlaPolicySpec] | None:
    """The first active policy (by position, then name) that covers the channel."""
    ordered = sorted(
        (p for p in policies if p[1].is_active), key=lambda p: (p[1].position, p[1].name, p[0])
    )
    return next((p for p in ordered if not p[1].channels or channel in p[1].channels), None)


def priority_of(conversation: Mapping[str, Any]) -> str:
    priority = conversation.get("priority")
    return priority if priority in PRIORITIES else "normal"


def rules_of(spec: SlaPolicySpec, priority: str, channel: str | None) -> Rules:
    targets = {
        metric: float(seconds)
        for metric in METRICS
        if (seconds := spec.target_for(metric, priority, channel)) is not None
    }
    return Rules(
        targets=targets,
        calendar=calendar_of(spec.business_hours),
        at_risk_fraction=spec.at_risk_fraction,
        pause_while_waiting=spec.pause_while_waiting_on_customer,
    )


def calendar_of(hours: BusinessHours | None) -> Calendar:
    if hours is None:
        return Calendar.always()
    return _calendar(hours.model_dump_json())


@lru_cache(maxsize=1024)
def _calendar(hours_json: str) -> Calendar:
    hours = BusinessHours.model_validate_json(hours_json)
    return Calendar.build(
        hours.timezone,
        {day: [(h.start, h.end) for h in spans] for day, spans in hours.weekly.items()},
        country=hours.holidays_country,
        subdivision=hours.holidays_subdivision,
        closed_dates=hours.closed_dates,
    )


def timeline_of(
    conversation: Mapping[str, Any], messages: Sequence[Mapping[str, Any]], replies_that_count: str
) -> Timeline:
    """From a conversation document and its messages (any order). An outbound message answers
    the customer unless it failed; with `agent`, only an agent's (`node_id` agent)."""
    inbound, replies = [], []
    for message in messages:
        at = aware(message.get("created_at"))
        if at is None:
            continue
        if message.get("direction") == "inbound":
            inbound.append(at)
        elif message.get("direction") == "outbound" and _answers(message, replies_that_count):
            replies.append(at)
    statuses = [
        (at, str(entry.get("status")))
        for entry in conversation.get("status_log") or []
        if (at := aware(entry.get("at"))) is not None
    ]
    if not statuses and conversation.get("status") == "closed":
        closed = aware(conversation.get("closed_at") or conversation.get("updated_at"))
        if closed is not None:
            statuses = [(closed, "closed")]
    return Timeline(sorted(inbound), sorted(replies), sorted(statuses, key=lambda s: s[0]))


def _answers(message: Mapping[str, Any], replies_that_count: str) -> bool:
    if message.get("status") in UNDELIVERED:
        return False
    return replies_that_count == "any" or message.get("node_id") == "agent"


def clock_view(clock: Clock, now: datetime) -> Document:
    """A clock as the API shows it."""
    return {
        "metric": clock.metric,
        "state": clock.state,
        "paused_because": clock.paused_because,
        "started_at": clock.started_at,
        "stopped_at": clock.stopped_at,
        "stopped_by": clock.stopped_by,
        "target_seconds": clock.target_seconds,
        "elapsed_seconds": round(clock.elapsed_seconds, 3),
        "remaining_seconds": round(clock.remaining_seconds, 3),
        "overrun_seconds": round(clock.overrun_seconds, 3),
        "at_risk": "at_risk" in clock.crossed(now),
        "at_risk_at": clock.at_risk_at,
        "due_at": clock.breach_at,
    }


def aware(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (MongoDB hands back naive UTC by default)."""
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
