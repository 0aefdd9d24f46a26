"""servicekit.topics: what the Helm chart's topics Job and deploy/local/kafka_topics.py run."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import pytest
from contracts.topics import TopicSpec
from servicekit.topics import ensure_topics, topic_spec


@dataclass
class FakeAdmin:
    """Topics as partition counts; every partition has a leader."""

    topics: dict[str, int]
    created: list[Any] = field(default_factory=list)
    grown: dict[str, int] = field(default_factory=dict)

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [
            {
                "topic": name,
                "error_code": 0 if name in self.topics else 3,
                "partitions": [{"error_code": 0, "leader": 1}] * self.topics.get(name, 0),
            }
            for name in names
        ]

    async def create_topics(self, new: list[Any], timeout_ms: int) -> Any:
        self.created.extend(new)
        for topic in new:
            self.topics[topic.name] = topic.num_partitions
        return argparse.Namespace(topic_errors=[(t.name, 0, "") for t in new])

    async def create_partitions(self, grow: dict[str, Any], timeout_ms: int) -> None:
        for name, partitions in grow.items():
            self.grown[name] = self.topics[name] = partitions.total_count


async def test_missing_topics_are_created_with_the_replication_factor_and_fewer_grown() -> None:
    admin = FakeAdmin(topics={"a": 2, "b": 9})
    specs = [TopicSpec("a", 6), TopicSpec("b", 6), TopicSpec("c", 3)]
    await ensure_topics(admin, specs, {}, replication_factor=3)
    assert [(t.name, t.num_partitions, t.replication_factor) for t in admin.created] == [
        ("c", 3, 3)
    ]
    assert admin.grown == {"a": 6}
    assert admin.topics == {"a": 6, "b": 9, "c": 3}  # Kafka cannot shrink b


def test_a_topic_argument_is_name_colon_partitions() -> None:
    assert topic_spec("connectflo.triggers.v1:6") == TopicSpec("connectflo.triggers.v1", 6)
    for bad in ("connectflo.triggers.v1", "x:0", "x:-1", ":6", "x:six"):
        with pytest.raises(argparse.ArgumentTypeError):
            topic_spec(bad)
