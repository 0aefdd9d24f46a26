"""A stored conversation's clocks: the policy that applies, the most specific target, and the
timeline read from the documents as MongoDB hands them back (naive UTC times)."""

from datetime import UTC, datetime, timedelta

from clocks.conversations import policy_for, priority_of, rules_of, timeline_of
from contracts.sla import SlaPolicySpec, SlaTarget

T0 = datetime(2026, 3, 2, 9, 0)  # naive, as pymongo gives it


def spec(name: str, **fields) -> SlaPolicySpec:
    fields.setdefault("targets", [SlaTarget(metric="first_response", seconds=60)])
    return SlaPolicySpec(name=name, **fields)


def test_the_first_active_policy_by_position_that_covers_the_channel_applies():
    policies = [
        ("slp_c", spec("Chat", position=1, channels=["chat"])),
        ("slp_o", spec("Off", position=0, is_active=False)),
        ("slp_a", spec("All", position=2)),
    ]
    assert policy_for(policies, "chat")[0] == "slp_c"
    assert policy_for(policies, "sms")[0] == "slp_a"
    assert policy_for([("slp_o", spec("Off", is_active=False))], "sms") is None


def test_the_most_specific_target_wins():
    policy = spec(
        "Tiered",
        targets=[
            SlaTarget(metric="first_response", seconds=3600),
            SlaTarget(metric="first_response", seconds=900, priority="high"),
            SlaTarget(metric="first_response", seconds=1800, channel="sms"),
            SlaTarget(metric="first_response", seconds=300, priority="high", channel="sms"),
        ],
    )
    assert rules_of(policy, "normal", "chat").targets == {"first_response": 3600}
    assert rules_of(policy, "high", "chat").targets == {"first_response": 900}
    assert rules_of(policy, "normal", "sms").targets == {"first_response": 1800}
    assert rules_of(policy, "high", "sms").targets == {"first_response": 300}
    assert priority_of({"priority": "bogus"}) == "normal"


def test_the_timeline_counts_delivered_replies_and_with_agent_only_an_agents():
    conversation = {
        "status": "waiting_on_customer",
        "status_log": [{"status": "waiting_on_customer", "at": T0 + timedelta(minutes=3)}],
    }
    messages = [
        {"direction": "outbound", "created_at": T0 + timedelta(minutes=2), "node_id": "reply"},
        {"direction": "inbound", "created_at": T0},
        {"direction": "outbound", "created_at": T0 + timedelta(minutes=1), "status": "failed"},
        {"direction": "outbound", "created_at": T0 + timedelta(minutes=4), "node_id": "agent"},
    ]
    any_reply = timeline_of(conversation, messages, "any")
    assert any_reply.inbound == [T0.replace(tzinfo=UTC)]
    assert any_reply.replies == [
        T0.replace(tzinfo=UTC) + timedelta(minutes=2),
        T0.replace(tzinfo=UTC) + timedelta(minutes=4),
    ]
    assert any_reply.statuses == [
        (T0.replace(tzinfo=UTC) + timedelta(minutes=3), "waiting_on_customer")
    ]
    assert timeline_of(conversation, messages, "agent").replies == [
        T0.replace(tzinfo=UTC) + timedelta(minutes=4)
    ]
    closed = timeline_of({"status": "closed", "closed_at": T0}, [], "any")
    assert closed.statuses == [(T0.replace(tzinfo=UTC), "closed")]
