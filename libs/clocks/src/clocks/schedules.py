"""When a cron schedule fires, in its IANA time zone, and which fires are due after downtime.

An expression has five fields (minute hour day-of-month month day-of-week, as cron) or six,
with a leading seconds field (`*/5 * * * * *`: every five seconds), as Quartz and Spring
write it. The five fields are cronsim's (https://github.com/cuu508/cronsim), which iterates in
the zone the way Debian's cron handles daylight saving time:

- a time the clocks skip (02:30 on the night they go forward) fires once, right after the
  change (03:00 local);
- a fixed time in the hour that repeats (02:30 on the night they go back) fires once, at its
  first occurrence; a schedule with a wildcard hour (`*/30 * * * *`) keeps its interval and
  fires in both copies of the hour, as cron does.

Fire times are UTC instants, strictly increasing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from cronsim import CronSim, CronSimError

CatchUp = Literal["skip", "once", "each"]
ON_TIME = timedelta(seconds=60)
"""A fire this late still counts as on time (the `skip` policy fires it)."""
MAX_DUE = 100_000  # fires looked at when catching up (a year of minutes is 525,600)


class InvalidSchedule(ValueError):
    """The expression or zone is not valid; the message says what is wrong."""


@dataclass(frozen=True)
class Due:
    fires: list[datetime]  # to make now, oldest first
    next_run: datetime  # after them
    missed: int  # due and not fired (the catch-up policy left them out)


@dataclass(frozen=True)
class Schedule:
    expression: str
    zone: ZoneInfo
    minutes: str  # the five cron fields
    seconds: tuple[int, ...]  # the seconds of each matching minute (0 for five fields)

    @classmethod
    def parse(cls, expression: str, timezone: str = "UTC") -> Schedule:
        fields = expression.split()
        if len(fields) not in (5, 6):
            raise InvalidSchedule(
                f"{expression!r} has {len(fields)} fields: a cron expression has five "
                "(minute hour day month weekday), or six with seconds first"
            )
        seconds = _seconds(fields[0]) if len(fields) == 6 else (0,)
        minutes = " ".join(fields[-5:])
        try:
            CronSim(minutes, datetime(2000, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise InvalidSchedule(f"{expression!r}: {exc}") from None
        return cls(expression, zone_of(timezone), minutes, seconds)

    def fires_after(self, after: datetime) -> Iterator[datetime]:
        """The fire times (UTC) strictly after ``after``, in order."""
        after = after.astimezone(UTC)
        # the minute ``after`` is in, and on: cronsim starts strictly after its start
        start = (after.replace(second=0, microsecond=0) - timedelta(seconds=1)).astimezone(
            self.zone
        )
        last = after
        for minute in CronSim(self.minutes, start):
            base = minute.astimezone(UTC)
            for second in self.seconds:
                fire = base + timedelta(seconds=second)
                if fire > last:
                    last = fire
                    yield fire

    def next_after(self, after: datetime) -> datetime:
        return next(self.fires_after(after))

    def due(self, planned: datetime, now: datetime, catch_up: CatchUp, limit: int = 1) -> Due:
        """The fires to make now for a schedule planned at ``planned`` (its next run), and
        the next run after them. Due are the fire times from ``planned`` to ``now``; fired:
        ``skip`` only one that is on time (the latest, at most ON_TIME late), ``once`` the
        latest, ``each`` the latest ``limit`` of them, oldest first."""
        if planned > now:
            return Due([], planned, 0)
        due = [planned]
        for fire in self.fires_after(planned):
            if fire > now or len(due) >= MAX_DUE:
                break
            due.append(fire)
        if catch_up == "skip":
            fired = due[-1:] if now - due[-1] <= ON_TIME else []
        elif catch_up == "once":
            fired = due[-1:]
        else:
            fired = due[-max(1, limit) :]
        return Due(fired, self.next_after(max(now, due[-1])), len(due) - len(fired))


def zone_of(name: str) -> ZoneInfo:
    if name not in _ZONES:
        raise InvalidSchedule(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"{name!r} is not an IANA time zone") from None


_ZONES = available_timezones() | {"UTC"}


def _seconds(field: str) -> tuple[int, ...]:
    """A cron seconds field: `*`, `n`, `a-b`, `*/s`, `a-b/s`, or a comma list of them."""
    chosen: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                low, high = 0, 59
            elif "-" in span:
                low_text, high_text = span.split("-", 1)
                low, high = int(low_text), int(high_text)
            else:
                low = int(span)
                high = 59 if step_text else low
        except ValueError:
            raise InvalidSchedule(f"seconds field {field!r}: {item!r} is not a number") from None
        if not (0 <= low <= high <= 59) or step < 1:
            raise InvalidSchedule(f"seconds field {field!r}: {item!r} is out of 0-59")
        chosen.update(range(low, high + 1, step))
    return tuple(sorted(chosen))
