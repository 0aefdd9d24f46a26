"""SLA clocks from a conversation's timeline: start, stop, pause, at risk and breach."""

from datetime import UTC, datetime, timedelta

from clocks.business import Calendar
from clocks.sla import Rules, Timeline, clocks
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # a Monday
NINE_TO_FIVE = Calendar.build("UTC", {d: [("09:00", "17:00")] for d in ("mon", "tue", "wed")})
MIN = 60.0


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rules(**targets: float) -> Rules:
    return Rules(targets=targets, calendar=NINE_TO_FIVE, at_risk_fraction=0.5)  # type: ignore[arg-type]


def by_metric(found):
    return {(c.metric, c.started_at): c for c in found}


def test_first_response_runs_until_the_reply_and_is_met_within_target():
    line = Timeline(inbound=[t(0)], replies=[t(10)], statuses=[])
    [first] = clocks(rules(first_response=30 * MIN), line, t(60))
    assert (first.state, first.elapsed_seconds, first.stopped_by) == ("met", 10 * MIN, "reply")
    assert first.breach_at is None and first.at_risk_at is None


def test_an_unanswered_customer_breaches_at_the_target_and_was_at_risk_at_its_fraction():
    line = Timeline(inbound=[t(0), t(5)], replies=[], statuses=[])
    [first] = clocks(rules(first_response=30 * MIN), line, t(40))
    assert first.state == "breached" and first.overrun_seconds == 10 * MIN
    assert (first.at_risk_at, first.breach_at) == (t(15), t(30))
    assert first.crossed(t(20)) == ["at_risk"] and first.crossed(t(40)) == ["at_risk", "breached"]


def test_a_running_clock_projects_its_crossings_and_outside_hours_it_is_paused():
    line = Timeline(inbound=[t(7 * 60 + 50)], replies=[], statuses=[])  # 16:50
    [first] = clocks(rules(first_response=30 * MIN), line, t(7 * 60 + 55))
    assert first.state == "running" and first.next_crossing(t(7 * 60 + 55)) == t(24 * 60 + 5)
    # 10 minutes today, 20 tomorrow from 09:00
    assert first.breach_at == t(24 * 60 + 20)
    [evening] = clocks(rules(first_response=30 * MIN), line, t(10 * 60))
    assert (evening.state, evening.paused_because) == ("paused", "outside business hours")
    assert evening.elapsed_seconds == 10 * MIN


def test_waiting_on_the_customer_pauses_and_the_projection_is_unknown_until_it_ends():
    statuses = [(t(0), "bot"), (t(10), "waiting_on_customer")]
    line = Timeline(inbound=[t(0)], replies=[t(5)], statuses=statuses)
    [_, resolution] = clocks(rules(first_response=60 * MIN, resolution=60 * MIN), line, t(100))
    assert (resolution.state, resolution.paused_because) == ("paused", "waiting on the customer")
    assert resolution.elapsed_seconds == 10 * MIN and resolution.breach_at is None
    resumed = Timeline(
        inbound=[t(0), t(100)], replies=[t(5)], statuses=[*statuses, (t(100), "bot")]
    )
    found = by_metric(clocks(rules(resolution=60 * MIN), resumed, t(120)))
    clock = found[("resolution", t(0))]
    assert clock.state == "running" and clock.elapsed_seconds == 30 * MIN
    assert clock.breach_at == t(150)


def test_next_response_turns_and_resolution_cycles_across_a_reopening():
    line = Timeline(
        inbound=[t(0), t(20), t(21), t(200)],
        replies=[t(5), t(30)],
        statuses=[(t(40), "closed"), (t(200), "open")],
    )
    found = by_metric(
        clocks(rules(first_response=60, next_response=60 * MIN, resolution=1e6), line, t(210))
    )
    assert found[("first_response", t(0))].elapsed_seconds == 5 * MIN
    assert found[("next_response", t(20))].elapsed_seconds == 10 * MIN
    assert found[("resolution", t(0))].stopped_by == "closed"
    assert found[("resolution", t(200))].state == "running"
    assert found[("next_response", t(200))].state == "running"
    assert found[("first_response", t(0))].state == "breached"
    assert len(found) == 5


def test_a_closing_stops_an_unanswered_turn():
    line = Timeline(inbound=[t(0)], replies=[], statuses=[(t(3), "closed")])
    [first, resolution] = clocks(rules(first_response=60 * MIN, resolution=60 * MIN), line, t(90))
    assert first.stopped_by == "closed" and first.state == "met"
    assert resolution.elapsed_seconds == 3 * MIN


minutes = st.integers(min_value=0, max_value=5 * 24 * 60)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(minutes, min_size=1, max_size=6),
    st.lists(minutes, max_size=4),
    st.lists(
        st.tuples(minutes, st.sampled_from(["bot", "waiting_on_customer", "open", "closed"])),
        max_size=6,
    ),
    minutes,
)
def test_clocks_never_count_backwards_or_past_wall_time_and_agree_with_their_state(
    inbound, replies, statuses, now
):
    line = Timeline(
        inbound=sorted(t(m) for m in inbound),
        replies=sorted(t(m) for m in replies),
        statuses=sorted((t(m), s) for m, s in statuses),
    )
    rule = rules(first_response=45 * MIN, next_response=45 * MIN, resolution=8 * 60 * MIN)
    later = t(now) + timedelta(hours=30)
    for clock in clocks(rule, line, t(now)):
        assert (
            0
            <= clock.elapsed_seconds
            <= max(0.0, (t(now) - clock.started_at).total_seconds()) + 1e-6
        )
        assert (clock.state == "breached") == (clock.elapsed_seconds > clock.target_seconds - 1e-6)
        if clock.stopped_at is None and clock.state == "running":
            assert clock.breach_at is not None and clock.breach_at > t(now)
        # time only moves a clock forward
        same = {(c.metric, c.started_at): c for c in clocks(rule, line, later)}
        assert (
            same[(clock.metric, clock.started_at)].elapsed_seconds >= clock.elapsed_seconds - 1e-6
        )


def test_the_customers_message_ends_a_wait_on_them_even_while_the_status_says_waiting():
    line = Timeline(
        inbound=[t(0), t(30)], replies=[t(5)], statuses=[(t(10), "waiting_on_customer")]
    )
    found = by_metric(clocks(rules(resolution=60 * MIN), line, t(40)))
    clock = found[("resolution", t(0))]
    assert clock.state == "running" and clock.elapsed_seconds == 20 * MIN
