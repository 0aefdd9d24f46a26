"""Business time: exact, additive, never negative, DST- and holiday-aware, pauses respected."""

from datetime import UTC, date, datetime, timedelta

import pytest
from clocks.business import (
    Calendar,
    InvalidCalendar,
    business_seconds,
    instant_after,
)
from hypothesis import given, settings
from hypothesis import strategies as st

OFFICE = Calendar.build(
    "Europe/Berlin",
    {day: [("09:00", "12:30"), ("13:30", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri")},
    country="DE",
    subdivision="BY",
    closed_dates=[date(2026, 12, 31)],
)
NIGHTS = Calendar.build(
    "America/New_York", {"sat": [("20:00", "24:00")], "sun": [("00:00", "06:00")]}
)
BASE = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.integers(min_value=0, max_value=400 * 86400).map(
    lambda s: BASE + timedelta(seconds=s, microseconds=s % 997)
)
calendars = st.sampled_from([OFFICE, NIGHTS, Calendar.always()])
HOUR = 3600.0


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_a_working_day_counts_its_hours_in_local_time_summer_and_winter():
    winter = business_seconds(OFFICE, at("2026-01-13T00:00+01:00"), at("2026-01-14T00:00+01:00"))
    summer = business_seconds(OFFICE, at("2026-07-14T00:00+02:00"), at("2026-07-15T00:00+02:00"))
    assert winter == summer == 7 * HOUR
    # 09:00 Berlin is 08:00 UTC in winter, 07:00 in summer
    assert instant_after(OFFICE, at("2026-01-13T00:00Z"), 1) == at("2026-01-13T08:00:01Z")
    assert instant_after(OFFICE, at("2026-07-14T00:00Z"), 1) == at("2026-07-14T07:00:01Z")


def test_the_days_the_clocks_change_keep_their_wall_clock_hours():
    # Berlin goes forward on 2026-03-29 (a Sunday) and back on 2026-10-25: open Mon-Fri,
    # so the weeks around them are counted on the following Monday
    week = business_seconds(OFFICE, at("2026-03-23T00:00+01:00"), at("2026-03-31T00:00+02:00"))
    assert week == 6 * 7 * HOUR
    # New York's night calendar spans the change on 2026-03-08 (02:00 skipped): 10 wall hours
    # of opening (Sat 20:00 - Sun 06:00) are 9 real hours that night
    night = business_seconds(NIGHTS, at("2026-03-07T12:00-05:00"), at("2026-03-08T12:00-04:00"))
    assert night == 9 * HOUR
    back = business_seconds(NIGHTS, at("2026-10-31T12:00-04:00"), at("2026-11-01T12:00-05:00"))
    assert back == 11 * HOUR


def test_public_holidays_and_the_tenants_own_dates_are_closed():
    christmas = business_seconds(OFFICE, at("2026-12-24T00:00+01:00"), at("2026-12-27T00:00+01:00"))
    assert christmas == 7 * HOUR  # 24th is a Thursday and open; 25th and 26th are holidays
    new_year = business_seconds(OFFICE, at("2026-12-30T00:00+01:00"), at("2027-01-02T00:00+01:00"))
    assert new_year == 7 * HOUR  # the 31st is the tenant's own, the 1st is public
    epiphany = business_seconds(OFFICE, at("2026-01-06T00:00+01:00"), at("2026-01-07T00:00+01:00"))
    assert epiphany == 0  # Heilige Drei Koenige: a holiday in Bavaria


def test_a_budget_runs_out_across_a_weekend_and_a_lunch_break():
    friday_four = at("2026-01-16T16:00+01:00")
    assert instant_after(OFFICE, friday_four, 2 * HOUR) == at("2026-01-19T10:00+01:00")
    morning = at("2026-01-19T12:00+01:00")
    assert instant_after(OFFICE, morning, 1 * HOUR) == at("2026-01-19T14:00+01:00")


def test_a_calendar_without_hours_never_runs_out():
    closed = Calendar.build("UTC", {})
    assert business_seconds(closed, BASE, BASE + timedelta(days=30)) == 0
    assert instant_after(closed, BASE, 1) is None


@pytest.mark.parametrize(
    ("weekly", "country", "complaint"),
    [
        ({"mon": [("17:00", "09:00")]}, None, "does not end after it starts"),
        ({"mon": [("09:00", "13:00"), ("12:00", "17:00")]}, None, "overlaps"),
        ({"mon": [("9", "17:00")]}, None, "not a time of day"),
        ({"mon": [("09:00", "24:30")]}, None, "not a time of day"),
        ({"monday": [("09:00", "17:00")]}, None, "not a weekday"),
        ({"mon": [("09:00", "17:00")]}, "XX", "not a country"),
    ],
)
def test_invalid_hours_are_refused_with_what_is_wrong(weekly, country, complaint):
    with pytest.raises(InvalidCalendar, match=complaint):
        Calendar.build("UTC", weekly, country=country)


def test_an_unknown_zone_or_subdivision_is_refused():
    with pytest.raises(InvalidCalendar, match="IANA"):
        Calendar.build("Mars/Olympus", {})
    with pytest.raises(InvalidCalendar, match="subdivision"):
        Calendar.build("UTC", {}, country="DE", subdivision="ZZ")


@settings(max_examples=300, deadline=None)
@given(calendars, instants, instants, instants)
def test_business_time_is_additive_never_negative_never_more_than_wall_time(cal, a, b, c):
    a, b, c = sorted((a, b, c))
    ab, bc, ac = (business_seconds(cal, x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab >= 0 and bc >= 0
    assert ac == pytest.approx(ab + bc, abs=1e-6)
    assert ac <= (c - a).total_seconds() + 1e-6
    assert business_seconds(cal, c, a) == 0


@settings(max_examples=300, deadline=None)
@given(calendars, instants, instants, instants, instants)
def test_a_pause_never_counts(cal, a, b, p, q):
    a, b = sorted((a, b))
    p, q = sorted((p, q))
    paused = business_seconds(cal, a, b, [(p, q)])
    inside = business_seconds(cal, max(a, p), min(b, q)) if p < b and q > a else 0.0
    assert paused == pytest.approx(business_seconds(cal, a, b) - inside, abs=1e-6)
    assert business_seconds(cal, a, b, [(p, q), (p, q)]) == pytest.approx(paused, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    calendars,
    instants,
    st.floats(min_value=0.001, max_value=30 * 86400),
    st.lists(st.tuples(instants, instants), max_size=3),
)
def test_the_instant_a_budget_runs_out_has_exactly_that_budget_behind_it(cal, start, budget, ps):
    pauses = [tuple(sorted(p)) for p in ps]
    end = instant_after(cal, start, budget, pauses)
    assert end is not None and end >= start
    assert business_seconds(cal, start, end, pauses) == pytest.approx(budget, abs=1e-5)
