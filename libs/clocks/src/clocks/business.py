"""Business time: the hours a team works, in its time zone, less its holidays.

A `Calendar` is weekly opening hours in an IANA zone (local wall-clock times: a day's 09:00 is
09:00 whether that day is summer or winter time), closed on public holidays of a country (the
`holidays` package, by ISO 3166 code and subdivision) and on the tenant's own dates. Intervals
are half-open, `[start, end)`, UTC instants; `24:00` closes at the next midnight.

`business_seconds` counts the business time between two instants outside some pauses;
`instant_after` finds when a budget of business time runs out. Both are pure and exact to the
microsecond: the time between a and c is the time between a and b plus that between b and c;
never negative; never more than the wall time; a paused moment never counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = timedelta(days=1)
HORIZON_DAYS = 3 * 366  # instant_after gives up after this many days without enough hours
Interval = tuple[datetime, datetime]
Minutes = tuple[int, int]  # [start, end) in minutes after local midnight, end up to 1440


class InvalidCalendar(ValueError):
    """The hours, zone or holiday country are not valid; the message says what is wrong."""


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    weekly: tuple[tuple[Minutes, ...], ...]  # Monday first, seven entries
    closed_dates: frozenset[date] = frozenset()
    public_holiday: Callable[[date], bool] = field(default=lambda day: False, compare=False)

    @classmethod
    def always(cls) -> Calendar:
        """Every hour of every day (an SLA without business hours counts wall time)."""
        return cls(ZoneInfo("UTC"), tuple(((0, 1440),) for _ in WEEKDAYS))

    @classmethod
    def build(
        cls,
        timezone: str,
        weekly: Mapping[str, Sequence[tuple[str, str]]],
        *,
        country: str | None = None,
        subdivision: str | None = None,
        closed_dates: Iterable[date] = (),
    ) -> Calendar:
        """`weekly` maps `mon`..`sun` to `("09:00", "17:00")` pairs; a day left out is closed."""
        from clocks.schedules import InvalidSchedule, zone_of

        try:
            zone = zone_of(timezone)
        except InvalidSchedule as error:
            raise InvalidCalendar(str(error)) from None
        unknown = sorted(set(weekly) - set(WEEKDAYS))
        if unknown:
            raise InvalidCalendar(f"{unknown[0]!r} is not a weekday (mon, tue, ..., sun)")
        days = tuple(_day(name, weekly.get(name, ())) for name in WEEKDAYS)
        if subdivision and not country:
            raise InvalidCalendar(f"subdivision {subdivision!r} without a holidays country")
        return cls(
            zone,
            days,
            frozenset(closed_dates),
            _holidays(country, subdivision) if country else (lambda day: False),
        )

    def is_open_day(self, day: date) -> bool:
        return day not in self.closed_dates and not self.public_holiday(day)

    def open_intervals(self, start: datetime, end: datetime | None = None) -> Iterator[Interval]:
        """The opening hours in `[start, end)` (`end` None: from `start` on, for ever), as UTC
        intervals in order. Local times a DST change skips or repeats are resolved as
        Python's zoneinfo does (fold 0): the hours of such a day are its wall-clock hours."""
        start = start.astimezone(UTC)
        end = end.astimezone(UTC) if end is not None else None
        if end is not None and end <= start:
            return
        day = start.astimezone(self.zone).date() - DAY  # a window may start the day before
        last = (end.astimezone(self.zone).date() + DAY) if end is not None else None
        while last is None or day <= last:
            if self.is_open_day(day):
                for opens, closes in self.weekly[day.weekday()]:
                    a = max(self._instant(day, opens), start)
                    b = self._instant(day, closes)
                    if end is not None:
                        b = min(b, end)
                    if a < b:
                        yield a, b
            day += DAY

    def _instant(self, day: date, minutes: int) -> datetime:
        wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
        return wall.replace(tzinfo=self.zone).astimezone(UTC)

    def has_hours(self) -> bool:
        return any(self.weekly)


def business_seconds(
    calendar: Calendar, start: datetime, end: datetime, pauses: Sequence[Interval] = ()
) -> float:
    """The business time in `[start, end)` outside `pauses`, in seconds (0 when end <= start)."""
    total = timedelta()
    for a, b in _without(calendar.open_intervals(start, end), pauses):
        total += b - a
    return total.total_seconds()


def instant_after(
    calendar: Calendar, start: datetime, seconds: float, pauses: Sequence[Interval] = ()
) -> datetime | None:
    """When `seconds` of business time after `start` (outside `pauses`) have passed: the
    instant the budget runs out. None when the calendar has no hours within the horizon."""
    if seconds <= 0:
        return start.astimezone(UTC)
    if not calendar.has_hours():
        return None
    left = timedelta(seconds=seconds)
    horizon = start + timedelta(days=HORIZON_DAYS)
    for a, b in _without(calendar.open_intervals(start, horizon), pauses):
        if b - a >= left:
            return a + left
        left -= b - a
    return None


def _without(intervals: Iterable[Interval], pauses: Sequence[Interval]) -> Iterator[Interval]:
    """`intervals` (in order) less the union of `pauses` (any order, may overlap)."""
    cuts = sorted((a.astimezone(UTC), b.astimezone(UTC)) for a, b in pauses if a < b)
    for a, b in intervals:
        cursor = a
        for p, q in cuts:
            if q <= cursor or p >= b:
                continue
            if p > cursor:
                yield cursor, p
            cursor = max(cursor, q)
            if cursor >= b:
                break
        if cursor < b:
            yield cursor, b


def _day(name: str, hours: Sequence[tuple[str, str]]) -> tuple[Minutes, ...]:
    spans = sorted((_minutes(name, a), _minutes(name, b)) for a, b in hours)
    for index, (a, b) in enumerate(spans):
        if a >= b:
            raise InvalidCalendar(f"{name}: {_hhmm(a)}-{_hhmm(b)} does not end after it starts")
        if index + 1 < len(spans) and spans[index + 1][0] < b:
            raise InvalidCalendar(f"{name}: {_hhmm(a)}-{_hhmm(b)} overlaps the next hours")
    return tuple(spans)


def _minutes(name: str, text: str) -> int:
    try:
        hours, minutes = text.split(":")
        value = int(hours) * 60 + int(minutes)
        if len(minutes) != 2 or not 0 <= int(minutes) < 60 or not 0 <= value <= 1440:
            raise ValueError
    except ValueError:
        raise InvalidCalendar(
            f"{name}: {text!r} is not a time of day (HH:MM, 00:00-24:00)"
        ) from None
    return value


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None) -> Callable[[date], bool]:
    """The public holidays of a country (and subdivision), expanded a year at a time."""
    if country not in holidays.list_supported_countries():
        raise InvalidCalendar(
            f"{country!r} is not a country the holidays package knows (an ISO 3166-1 code)"
        )
    try:
        table = holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:
        raise InvalidCalendar(f"{country!r} has no subdivision {subdivision!r}") from None
    return table.__contains__
