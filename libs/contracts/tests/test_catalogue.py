"""contracts.catalogue: every event on a topic, every topic described, every flow consistent."""

from __future__ import annotations

from contracts.catalogue import TOPIC_EVENTS, topics_of
from contracts.events import EVENT_TYPES
from contracts.topics import ALL_TOPICS


def test_every_event_type_travels_on_at_least_one_topic() -> None:
    nowhere = [name for name, model in EVENT_TYPES.items() if not topics_of(model)]
    assert nowhere == [], f"add {nowhere} to contracts.catalogue.TOPIC_EVENTS"


def test_every_topic_is_described_in_the_order_they_are_created() -> None:
    assert list(TOPIC_EVENTS) == [spec.name for spec in ALL_TOPICS]
    assert all(entry.topic == topic and entry.key for topic, entry in TOPIC_EVENTS.items())


def test_what_a_service_sends_is_on_the_topic_and_every_event_has_a_sender() -> None:
    for entry in TOPIC_EVENTS.values():
        sent = set()
        for flow in entry.flows:
            if flow.action == "send":
                assert flow.events, f"{flow.service} sends nothing on {entry.topic}"
                assert set(flow.events) <= set(entry.events), (flow, entry.topic)
                sent |= set(flow.events)
            else:
                assert flow.events == (), "a receiver reads the whole topic"
        assert sent == set(entry.events), f"nobody sends {set(entry.events) - sent}"
        assert len({(f.service, f.action) for f in entry.flows}) == len(entry.flows)


def test_the_architecture_docs_named_cases() -> None:
    conversations = {e.event_type for e in TOPIC_EVENTS["connectflo.conversations.v1"].events}
    assert "SlaClockCrossed" in conversations
    commands = {e.event_type for e in TOPIC_EVENTS["connectflo.executions.commands.v1"].events}
    assert "ExecutionRepairRequested" in commands
