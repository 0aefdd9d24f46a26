"""Cron schedules in a zone: DST as Debian's cron handles it, seconds, catch-up policies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from clocks.schedules import InvalidSchedule, Schedule
from hypothesis import given, settings
from hypothesis import strategies as st


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def first(schedule: Schedule, after: datetime, n: int) -> list[datetime]:
    fires = schedule.fires_after(after)
    return [next(fires) for _ in range(n)]


def test_a_weekly_run_in_its_zone() -> None:
    monday_nine = Schedule.parse("0 9 * * 1", "Europe/Berlin")
    # 2026-12-07 is a Monday; Berlin is UTC+1 in winter, UTC+2 in summer
    assert monday_nine.next_after(utc(2026, 12, 3, 12)) == utc(2026, 12, 7, 8)
    assert monday_nine.next_after(utc(2026, 6, 2)) == utc(2026, 6, 8, 7)


def test_a_time_the_clocks_skip_runs_once_right_after_the_change() -> None:
    daily = Schedule.parse("30 2 * * *", "Europe/Berlin")  # 2026-03-29: 02:00 -> 03:00
    assert first(daily, utc(2026, 3, 28, 12), 3) == [
        utc(2026, 3, 29, 1),  # 03:00 CEST
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
        utc(2026, 3, 31, 0, 30),
    ]


def test_a_fixed_time_in_the_repeated_hour_runs_once() -> None:
    daily = Schedule.parse("30 2 * * *", "Europe/Berlin")  # 2026-10-25: 03:00 -> 02:00
    assert first(daily, utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first of the two
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]


def test_an_interval_keeps_its_interval_through_the_repeated_hour() -> None:
    half_hourly = Schedule.parse("*/30 * * * *", "Europe/Berlin")
    fires = first(half_hourly, utc(2026, 10, 24, 23, 50), 5)  # 01:50 CEST
    assert [b - a for a, b in itertools.pairwise(fires)] == [timedelta(minutes=30)] * 4


def test_six_fields_have_seconds_first() -> None:
    every_five = Schedule.parse("*/5 * * * * *")
    assert first(every_five, utc(2026, 1, 1, 0, 0, 57), 3) == [
        utc(2026, 1, 1, 0, 1, 0),
        utc(2026, 1, 1, 0, 1, 5),
        utc(2026, 1, 1, 0, 1, 10),
    ]
    listed = Schedule.parse("10,40-41 0 12 * * *", "UTC")
    assert first(listed, utc(2026, 1, 1), 3) == [
        utc(2026, 1, 1, 12, 0, 10),
        utc(2026, 1, 1, 12, 0, 40),
        utc(2026, 1, 1, 12, 0, 41),
    ]


@pytest.mark.parametrize(
    ("expression", "zone", "says"),
    [
        ("0 9 * *", "UTC", "4 fields"),
        ("0 25 * * *", "UTC", "Bad hour"),
        ("61 * * * * *", "UTC", "seconds field"),
        ("x * * * * *", "UTC", "not a number"),
        ("0 9 * * 1", "Mars/Olympus", "not an IANA time zone"),
    ],
)
def test_a_wrong_expression_or_zone_says_what_is_wrong(expression, zone, says) -> None:
    with pytest.raises(InvalidSchedule, match=says):
        Schedule.parse(expression, zone)


def test_catch_up_after_downtime() -> None:
    hourly = Schedule.parse("0 * * * *")
    planned, now = utc(2026, 1, 1, 8), utc(2026, 1, 1, 12, 20)  # 08..12: five due
    skip = hourly.due(planned, now, "skip")
    assert skip.fires == [] and skip.next_run == utc(2026, 1, 1, 13) and skip.missed == 5
    once = hourly.due(planned, now, "once")
    assert once.fires == [utc(2026, 1, 1, 12)] and once.missed == 4
    each = hourly.due(planned, now, "each", limit=3)
    assert each.fires == [utc(2026, 1, 1, 10), utc(2026, 1, 1, 11), utc(2026, 1, 1, 12)]
    assert each.missed == 2 and each.next_run == utc(2026, 1, 1, 13)
    on_time = hourly.due(utc(2026, 1, 1, 12), utc(2026, 1, 1, 12, 0, 30), "skip")
    assert on_time.fires == [utc(2026, 1, 1, 12)] and on_time.missed == 0
    early = hourly.due(utc(2026, 1, 1, 13), now, "once")
    assert early.fires == [] and early.next_run == utc(2026, 1, 1, 13)


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
EXPRESSIONS = ["30 2 * * *", "*/30 * * * *", "0 * * * *", "15 1-3 * * 0", "*/20 * * * * *"]


@settings(max_examples=200, deadline=None)
@given(
    expression=st.sampled_from(EXPRESSIONS),
    zone=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1)),
)
def test_fires_increase_and_each_is_found_again_from_just_before_it(
    expression: str, zone: str, start: datetime
) -> None:
    schedule = Schedule.parse(expression, zone)
    after = start.replace(tzinfo=UTC)
    fires = first(schedule, after, 6)
    assert fires[0] > after
    assert all(a < b for a, b in itertools.pairwise(fires))
    for fire in fires:
        assert schedule.next_after(fire - timedelta(seconds=1)) == fire
