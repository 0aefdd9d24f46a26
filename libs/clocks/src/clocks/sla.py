"""A conversation's SLA clocks, reckoned from what happened in it (docs/architecture.md, *SLA
clocks*).

Three metrics, each a clock that counts business time (`clocks.business`) from a start to a
stop, outside the times the conversation waited on the customer (when the policy pauses then):

- `first_response`: from the customer's first message to the first reply that counts (or the
  conversation's closing), once per conversation;
- `next_response`: from the customer's first message after a reply to the next reply (or the
  closing), once per such turn;
- `resolution`: from the customer's first message (after a closing: the next one, which
  reopens it) to the closing.

Waiting on the customer (status `waiting_on_customer`) lasts until the status changes or the
customer writes, whichever comes first.

Nothing is accumulated: the clocks are a pure function of the timeline and `now`, so any
service computes the same answer and a late evaluation is as exact as a timely one. A clock
crosses *at risk* when its elapsed time reaches `at_risk_fraction` of the target and is
*breached* past the target; the instants are exact (past) or projected (a running clock that
no pause interrupts), and unknown while it is paused waiting on the customer."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from clocks.business import Calendar, Interval, business_seconds, instant_after

Metric = Literal["first_response", "next_response", "resolution"]
METRICS: tuple[Metric, ...] = ("first_response", "next_response", "resolution")
State = Literal["running", "paused", "met", "breached"]
WAITING = "waiting_on_customer"
Cycle = tuple[Metric, datetime, datetime | None, Literal["reply", "closed"] | None]
CLOSED = "closed"


@dataclass(frozen=True)
class Timeline:
    """What the clocks are reckoned from: the customer's messages, the replies that count and
    the conversation's status changes, each in time order."""

    inbound: Sequence[datetime]
    replies: Sequence[datetime]
    statuses: Sequence[tuple[datetime, str]]

    def spans(self, status: str, now: datetime) -> list[Interval]:
        """The intervals the conversation was in `status` (the last one open until `now`)."""
        spans, since = [], None
        for at, value in self.statuses:
            if value == status and since is None:
                since = at
            elif value != status and since is not None:
                spans.append((since, at))
                since = None
        if since is not None and since < now:
            spans.append((since, now))
        return spans


@dataclass(frozen=True)
class Rules:
    """A policy as the clocks use it: the targets (seconds of business time) of the metrics it
    sets, the calendar, when a clock is at risk, and whether waiting on the customer pauses."""

    targets: Mapping[Metric, float]
    calendar: Calendar
    at_risk_fraction: float = 0.8
    pause_while_waiting: bool = True


@dataclass(frozen=True)
class Clock:
    metric: Metric
    started_at: datetime
    stopped_at: datetime | None
    stopped_by: Literal["reply", "closed"] | None
    target_seconds: float
    elapsed_seconds: float
    at_risk_at: datetime | None
    breach_at: datetime | None
    state: State
    paused_because: str | None = None

    @property
    def key(self) -> str:
        """Names this clock's cycle: the metric and the second it started."""
        return f"{self.metric}:{int(self.started_at.timestamp())}"

    @property
    def overrun_seconds(self) -> float:
        return max(0.0, self.elapsed_seconds - self.target_seconds)

    @property
    def remaining_seconds(self) -> float:
        return max(0.0, self.target_seconds - self.elapsed_seconds)

    def crossed(self, now: datetime) -> list[Literal["at_risk", "breached"]]:
        """The thresholds this clock has crossed by `now`, in order."""
        crossed: list[Literal["at_risk", "breached"]] = []
        if self.at_risk_at is not None and self.at_risk_at <= now:
            crossed.append("at_risk")
        if self.breach_at is not None and self.breach_at <= now:
            crossed.append("breached")
        return crossed

    def next_crossing(self, now: datetime) -> datetime | None:
        """When this clock crosses its next threshold, if it is known and after `now`."""
        return min((t for t in (self.at_risk_at, self.breach_at) if t and t > now), default=None)


def clocks(rules: Rules, timeline: Timeline, now: datetime) -> list[Clock]:
    """Every clock the policy's targets set, each cycle in order of its start."""
    closes = [at for at, _ in _entries(timeline.statuses, CLOSED)]
    pauses = _waits(timeline, now) if rules.pause_while_waiting else []
    waiting = bool(pauses) and pauses[-1][1] == now
    cycles: list[Cycle] = []
    for index, (turn, stop, by) in enumerate(_turns(timeline, closes)):
        cycles.append(("first_response" if index == 0 else "next_response", turn, stop, by))
    inbound = list(timeline.inbound)
    start: datetime | None = inbound[0] if inbound else None
    while start is not None:
        closed = _first_after(closes, start)
        cycles.append(("resolution", start, closed, "closed" if closed else None))
        start = _first_after(inbound, closed, strictly=True) if closed else None
    return [
        _clock(rules, metric, start_, stop, by, pauses, waiting, now)
        for metric, start_, stop, by in sorted(cycles, key=lambda c: (c[1], METRICS.index(c[0])))
        if metric in rules.targets
    ]


def _clock(
    rules: Rules,
    metric: Metric,
    start: datetime,
    stop: datetime | None,
    stopped_by: Literal["reply", "closed"] | None,
    pauses: list[Interval],
    waiting: bool,
    now: datetime,
) -> Clock:
    target = float(rules.targets[metric])
    until = stop if stop is not None and stop <= now else now
    elapsed = business_seconds(rules.calendar, start, until, pauses)
    at_risk = _crossing(rules, start, target * rules.at_risk_fraction, pauses, until, stop, waiting)
    breach = _crossing(rules, start, target, pauses, until, stop, waiting)
    state: State
    paused_because = None
    if breach is not None and breach <= until and elapsed > target - 1e-6:
        state = "breached"
    elif stop is not None and stop <= now:
        state = "met"
    elif waiting:
        state, paused_because = "paused", "waiting on the customer"
    elif not any(True for _ in rules.calendar.open_intervals(now, _just_after(now))):
        state, paused_because = "paused", "outside business hours"
    else:
        state = "running"
    return Clock(
        metric,
        start,
        stop if stop is not None and stop <= now else None,
        stopped_by if stop is not None and stop <= now else None,
        target,
        elapsed,
        at_risk,
        breach,
        state,
        paused_because,
    )


def _crossing(
    rules: Rules,
    start: datetime,
    budget: float,
    pauses: list[Interval],
    until: datetime,
    stop: datetime | None,
    waiting: bool,
) -> datetime | None:
    """When the clock's elapsed time reaches `budget`: a past instant, or a projected one for
    a clock still running (None when it stopped first, or while it waits on the customer)."""
    at = instant_after(rules.calendar, start, budget, pauses)
    if at is None:
        return None
    if at <= until:
        return at
    if (stop is not None and stop <= until) or waiting:
        return None
    return at


def _turns(
    timeline: Timeline, closes: list[datetime]
) -> list[tuple[datetime, datetime | None, Literal["reply", "closed"] | None]]:
    """The customer's turns: from a message nobody had answered yet to the reply (or the
    closing) that ends it. The first is the first response's, the others next responses'."""
    events = sorted(
        [(at, 0, "inbound") for at in timeline.inbound]
        + [(at, 1, "reply") for at in timeline.replies]
        + [(at, 2, "closed") for at in closes]
    )
    turns: list[tuple[datetime, datetime | None, Literal["reply", "closed"] | None]] = []
    since: datetime | None = None
    for at, _, kind in events:
        if kind == "inbound" and since is None:
            since = at
        elif kind in ("reply", "closed") and since is not None:
            turns.append((since, at, "reply" if kind == "reply" else "closed"))
            since = None
    if since is not None:
        turns.append((since, None, None))
    return turns


def _first_after(times: list[datetime], at: datetime, *, strictly: bool = False) -> datetime | None:
    index = bisect_left(times, at)
    while strictly and index < len(times) and times[index] == at:
        index += 1
    return times[index] if index < len(times) else None


def _entries(statuses: Sequence[tuple[datetime, str]], status: str) -> list[tuple[datetime, str]]:
    """The changes into `status` (a repeated entry of the same status is no change)."""
    entries, previous = [], None
    for at, value in statuses:
        if value == status and previous != status:
            entries.append((at, value))
        previous = value
    return entries


def _waits(timeline: Timeline, now: datetime) -> list[Interval]:
    """When the conversation waited on the customer: from the status to the next change or
    the customer's next message, whichever came first (the customer answered)."""
    inbound = list(timeline.inbound)
    waits = []
    for since, until in timeline.spans(WAITING, now):
        answered = _first_after(inbound, since, strictly=True)
        end = min(until, answered) if answered is not None else until
        if since < end:
            waits.append((since, end))
    return waits


def _just_after(now: datetime) -> datetime:
    return now + timedelta(microseconds=1)
