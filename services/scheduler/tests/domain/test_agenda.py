"""What the firing loop knows of pending timers without reading them, and when it must read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.domain.agenda import Agenda
from scheduler.domain.timers import bucket_of

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MINUTE = bucket_of(NOW)


def timer(key: str, fire_at: datetime, partition: int = 0) -> dict[str, Any]:
    return {"_id": key, "fire_at": fire_at, "partition": partition}


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def loaded(agenda: Agenda, partition: int, bucket: int, *timers: dict[str, Any]) -> None:
    agenda.reading(partition, bucket)
    agenda.read(partition, bucket, list(timers))


def test_only_buckets_with_a_timer_due_are_listed_earliest_first() -> None:
    agenda = Agenda()
    agenda.own({0, 1})
    assert agenda.unread == [0, 1]
    agenda.learn(0, {MINUTE: at(30), MINUTE + 60: at(3600)})
    agenda.learn(1, {MINUTE - 1: at(-10), MINUTE: at(50)})
    assert agenda.unread == []

    assert agenda.next_due() == at(-10)
    assert agenda.due(at(40)) == [(1, MINUTE - 1), (0, MINUTE)]
    assert agenda.due(at(59)) == [(1, MINUTE - 1), (0, MINUTE), (1, MINUTE)]
    assert agenda.due(at(3599)) == agenda.due(at(59))
    assert agenda.due(at(-11)) == []


def test_a_loaded_bucket_is_due_when_its_first_timer_is_and_forgotten_when_empty() -> None:
    agenda = Agenda()
    agenda.own({0})
    agenda.learn(0, {MINUTE: at(10), MINUTE + 1: at(70)})
    first, second = timer("a", at(20)), timer("b", at(40))  # the one due at 10 was cancelled
    loaded(agenda, 0, MINUTE, second, first)

    assert agenda.next_due() == at(20)
    assert agenda.due(at(15)) == []
    assert agenda.due_timers(0, MINUTE, at(45), limit=10) == [first, second]
    assert agenda.due_timers(0, MINUTE, at(45), limit=1) == [first]
    agenda.settled([first])
    assert agenda.next_due() == at(40)
    agenda.settled([second])
    assert agenda.next_due() == at(70)  # the next bucket's
    assert not agenda.needs_read(0, MINUTE)
    assert agenda.due_timers(0, MINUTE, at(45), limit=10) == []


def test_a_timer_stored_lowers_its_bucket_duplicate_or_not() -> None:
    agenda = Agenda()
    agenda.own({0})
    agenda.learn(0, {MINUTE + 5: at(300)})
    agenda.stored(timer("late", at(-600)), new=False)  # a redelivery: maybe pending
    assert agenda.next_due() == at(-600)
    assert agenda.due(NOW) == [(0, MINUTE - 10)]
    assert agenda.needs_read(0, MINUTE - 10)


def test_a_loaded_bucket_keeps_what_this_replica_stores_and_rereads_what_it_cannot_know() -> None:
    agenda = Agenda()
    agenda.own({0})
    agenda.learn(0, {})
    known = timer("known", at(5))
    agenda.stored(known, new=True)
    loaded(agenda, 0, MINUTE, known)

    new = timer("new", at(1))
    agenda.stored(new, new=True)
    assert agenda.due_timers(0, MINUTE, at(10), limit=10) == [new, known]
    agenda.stored(known, new=False)  # a redelivery of a timer it has
    assert not agenda.needs_read(0, MINUTE)
    agenda.stored(timer("tombstoned", at(2)), new=False)  # pending? settled? a tombstone?
    assert agenda.needs_read(0, MINUTE)
    assert agenda.due_timers(0, MINUTE, at(10), limit=10) == []


def test_a_timer_stored_while_its_bucket_is_read_is_kept() -> None:
    agenda = Agenda()
    agenda.own({0})
    agenda.learn(0, {MINUTE: at(5)})
    agenda.reading(0, MINUTE)
    during = timer("during", at(3))
    agenda.stored(during, new=True)  # after the read's snapshot: the read misses it
    agenda.read(0, MINUTE, [timer("before", at(5))])

    assert [t["_id"] for t in agenda.due_timers(0, MINUTE, at(10), limit=10)] == [
        "during",
        "before",
    ]


def test_a_bucket_read_while_a_duplicate_came_is_read_again() -> None:
    agenda = Agenda()
    agenda.own({0})
    agenda.learn(0, {MINUTE: at(5)})
    agenda.reading(0, MINUTE)
    agenda.stored(timer("unsure", at(3)), new=False)
    agenda.read(0, MINUTE, [timer("before", at(5))])
    assert agenda.needs_read(0, MINUTE)
    assert agenda.next_due() == at(3)

    loaded(agenda, 0, MINUTE, timer("before", at(5)))
    assert not agenda.needs_read(0, MINUTE)
    assert agenda.next_due() == at(5)


def test_an_empty_read_forgets_the_bucket() -> None:
    agenda = Agenda()
    agenda.own({0})
    agenda.learn(0, {MINUTE: at(5)})
    loaded(agenda, 0, MINUTE)  # its timer was cancelled meanwhile
    assert agenda.next_due() is None
    assert agenda.due(at(120)) == []


def test_partitions_given_up_are_forgotten_and_read_again_when_assigned_again() -> None:
    agenda = Agenda()
    agenda.own({0, 1})
    agenda.learn(0, {MINUTE: at(5)})
    agenda.learn(1, {MINUTE: at(6)})
    loaded(agenda, 0, MINUTE, timer("a", at(5)))

    agenda.give_up({0})
    assert agenda.partitions == {1}
    assert agenda.due(at(10)) == [(1, MINUTE)]
    assert agenda.due_timers(0, MINUTE, at(10), limit=10) == []
    agenda.stored(timer("b", at(1), partition=0), new=True)  # not ours: ignored
    assert agenda.next_due() == at(6)

    agenda.own({0, 1})  # the whole assignment: 1 kept, 0 new again
    assert agenda.unread == [0]
    agenda.learn(0, {MINUTE: at(1)})
    assert agenda.due(at(10)) == [(0, MINUTE), (1, MINUTE)]
    assert agenda.needs_read(0, MINUTE)


def test_what_a_partition_read_found_arrives_too_late_for_a_partition_given_up() -> None:
    agenda = Agenda()
    agenda.own({0})
    agenda.give_up({0})
    agenda.learn(0, {MINUTE: at(5)})
    assert agenda.next_due() is None


def test_a_partition_read_does_not_undo_a_bucket_loaded_since() -> None:
    agenda = Agenda()
    agenda.own({0})
    agenda.stored(timer("a", at(5)), new=True)
    loaded(agenda, 0, MINUTE, timer("a", at(5)))
    agenda.learn(0, {MINUTE: at(5), MINUTE + 1: at(65)})
    assert not agenda.needs_read(0, MINUTE)
    assert agenda.needs_read(0, MINUTE + 1)
