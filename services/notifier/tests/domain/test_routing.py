from collections import Counter
from datetime import UTC, datetime, timedelta

from notifier.domain.routing import Ask, Board, in_turn, priority_of

T0 = datetime(2026, 12, 2, 12, tzinfo=UTC)


def agent(agent_id: str, **fields: object) -> dict[str, object]:
    return {
        "agent_id": agent_id,
        "name": agent_id.title(),
        "capacity": 2,
        "status": "online",
    } | fields


def board(*agents: dict[str, object], members: tuple[str, ...] | None = None) -> Board:
    ids = members if members is not None else tuple(str(a["agent_id"]) for a in agents)
    return Board.of(agents, [{"queue_id": "support", "members": list(ids)}], [], {})


def test_round_robin_takes_turns_and_never_passes_capacity() -> None:
    b = board(agent("ann"), agent("bob"), agent("cy"))
    ask = Ask(queue="support", agent_id=None, strategy="round_robin")
    chosen = []
    for minute in range(7):
        choice = b.choose(ask)
        if choice.agent is not None:
            b.take(choice.agent, T0 + timedelta(minutes=minute))
        chosen.append(choice.agent.id if choice.agent else None)
    assert chosen == ["ann", "bob", "cy", "ann", "bob", "cy", None]
    assert b.load == Counter({"ann": 2, "bob": 2, "cy": 2})
    assert "nobody in queue support is online with capacity" in b.choose(ask).reason


def test_least_busy_prefers_the_lowest_load_against_capacity() -> None:
    b = board(agent("ann", capacity=10), agent("bob", capacity=2))
    b.load.update({"ann": 4, "bob": 1})  # 40% against 50%
    choice = b.choose(Ask(queue="support", agent_id=None, strategy="least_busy"))
    assert choice.agent is not None and choice.agent.id == "ann"
    assert "4 of 10" in choice.reason


def test_skills_and_language_match_or_nobody() -> None:
    b = board(
        agent("ann", skills=["billing"], languages=["en"]),
        agent("bob", skills=["billing", "de-escalation"], languages=["de", "en"]),
    )
    skilled = Ask(
        queue="support", agent_id=None, strategy="skill_based", skills=frozenset({"de-escalation"})
    )
    assert b.choose(skilled).agent.id == "bob"  # type: ignore[union-attr]
    german = Ask(
        queue="support",
        agent_id=None,
        strategy="skill_based",
        skills=frozenset({"billing"}),
        languages=frozenset({"de"}),
    )
    assert b.choose(german).agent.id == "bob"  # type: ignore[union-attr]
    french = Ask(
        queue="support", agent_id=None, strategy="skill_based", languages=frozenset({"fr"})
    )
    choice = b.choose(french)
    assert choice.agent is None and "language fr" in choice.reason


def test_only_online_members_taking_the_channel_are_eligible() -> None:
    b = board(
        agent("ann", status="away"),
        agent("bob", channels=["chat"]),
        agent("cy"),
        agent("dee"),
        members=("ann", "bob", "cy"),
    )
    sms = Ask(queue="support", agent_id=None, strategy="round_robin", channel="sms")
    assert b.choose(sms).agent.id == "cy"  # type: ignore[union-attr]


def test_a_specific_agent_or_why_not() -> None:
    b = board(agent("ann", status="offline"), agent("bob"))
    assert b.choose(Ask(queue=None, agent_id="bob", strategy="specific")).agent.id == "bob"  # type: ignore[union-attr]
    refused = b.choose(Ask(queue=None, agent_id="ann", strategy="specific"))
    assert refused.agent is None and refused.reason == "Ann is offline"


def test_queued_requests_go_by_priority_then_age() -> None:
    queued = [
        {"_id": "a", "priority": 1, "requested_at": T0},
        {"_id": "b", "priority": 3, "requested_at": T0 + timedelta(seconds=5)},
        {"_id": "c", "priority": 1, "requested_at": T0 - timedelta(seconds=5)},
    ]
    assert [q["_id"] for q in in_turn(queued)] == ["b", "c", "a"]


def test_priority_from_the_node_or_from_the_customer() -> None:
    assert priority_of({"priority": "urgent"}) == 3
    assert priority_of({"signals": {}}) == 1
    assert priority_of({"signals": {"vip": True, "negativeSentiment": True}}) == 3
    assert priority_of({"signals": {"slaAtRisk": True}}) == 2
