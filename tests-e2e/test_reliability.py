"""Crashes and poison from the outside: a kill -9 in the middle of 200 concurrent executions
loses none, leaves none stuck and repeats no side effect; messages nobody can handle go to the
dead letters with their error and origin while every other execution keeps flowing."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from contracts import Envelope, topics
from contracts.events import ExecutionRequested
from contracts.topics import ALL_TOPICS
from kafka_observer import KafkaObserver, Seen
from stored import stored_run_seqs
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e

CONCURRENT = 200
KILL_AFTER_COMPLETED = 20  # some executions done, most still in flight when the kill comes
COMMAND_PARTITIONS = next(s.partitions for s in ALL_TOPICS if s.name == topics.EXECUTION_COMMANDS)


async def by_execution(
    observer: KafkaObserver, event_type: str, tenant_id: str, count: int, timeout: float
) -> dict[str, list[Seen]]:
    """Events of one type for the tenant, grouped by execution, once ``count`` executions
    have at least one (duplicates are allowed: delivery is at least once)."""
    deadline = time.monotonic() + timeout
    while True:
        grouped: dict[str, list[Seen]] = defaultdict(list)
        for m in observer.seen:
            if m.type == event_type and m.headers.get("tenant_id") == tenant_id:
                grouped[m.value["execution_id"]].append(m)
        if len(grouped) >= count:
            return grouped
        if time.monotonic() > deadline:
            raise AssertionError(f"{event_type} seen for {len(grouped)} of {count} executions")
        await asyncio.sleep(0.1)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("victim", ["executor", "notifier"])
async def test_kill_9_mid_run_completes_every_execution_with_one_reply_each(
    victim, stack, api, tenant
) -> None:
    await api.activate(greeting_workflow(f"Greeting ({victim} crash)"))
    observer = KafkaObserver(
        stack.kafka, [topics.EXECUTIONS, topics.REPLIES], alive=stack.assert_alive
    )
    await observer.start()
    run = secrets.token_hex(3)
    tenant_id = tenant.tenant_id

    async def post_all() -> list[str]:
        return await asyncio.gather(
            *(api.message(f"question {i}", conversation_id=f"{run}-{i}") for i in range(CONCURRENT))
        )

    try:
        began = time.monotonic()
        posting = asyncio.create_task(post_all())
        await stack.wait_for_executions(
            KILL_AFTER_COMPLETED, tenant_id=tenant_id, timeout=120, interval=0.05
        )
        stack.kill(victim)
        killed_at = time.monotonic()
        at_kill = stack.execution_statuses(tenant_id=tenant_id)
        trigger_ids = await posting
        posted_in = time.monotonic() - began
        assert len(set(trigger_ids)) == CONCURRENT
        assert at_kill["completed"] < CONCURRENT, f"all done before the kill: {at_kill}"

        stack.start(victim)
        restarted_in = time.monotonic() - killed_at
        recovered_in = await stack.wait_for_executions(CONCURRENT, tenant_id=tenant_id, timeout=300)
        total = time.monotonic() - began
        print(
            f"\n[{victim} kill -9] {CONCURRENT} triggers posted in {posted_in:.1f}s; "
            f"killed after {killed_at - began:.1f}s with {dict(at_kill)} "
            f"({CONCURRENT - sum(at_kill.values())} not yet created); restart healthy in "
            f"{restarted_in:.1f}s; all completed {recovered_in:.1f}s after that; "
            f"total {total:.1f}s"
        )

        db = stack.db
        executions = list(db.executions.find({"tenant_id": tenant_id}))
        assert Counter(e["status"] for e in executions) == {"completed": CONCURRENT}
        assert sorted(e["trigger_id"] for e in executions) == sorted(trigger_ids)
        execution_ids = {e["_id"] for e in executions}

        # An execution written just before the kill has its outbox re-published when its
        # trigger is redelivered, a moment after it shows as completed: wait for every reply.
        replies = await by_execution(observer, "ReplySent", tenant_id, CONCURRENT, timeout=60)

        # Side effects: one notification per idempotency key, one key per execution.
        notifications = list(db.notifications.find({"tenant_id": tenant_id}))
        assert len(notifications) == CONCURRENT
        per_execution = Counter(n["execution_id"] for n in notifications)
        assert set(per_execution) == execution_ids
        assert set(per_execution.values()) == {1}, per_execution.most_common(3)
        assert {n["status"] for n in notifications} == {"delivered"}
        assert all(n["_id"].startswith(n["execution_id"] + ":") for n in notifications)

        # Node runs have deterministic ids: a replayed command records nothing twice.
        seqs = stored_run_seqs(db, {"tenant_id": tenant_id})
        assert set(seqs) == execution_ids
        twice = {e: s for e, s in seqs.items() if sorted(s) != [1, 2, 3, 4]}
        assert not twice, list(twice.items())[:3]

        # On Kafka: duplicates of one event are allowed, two different replies are not.
        replies = await by_execution(observer, "ReplySent", tenant_id, CONCURRENT, timeout=10)
        assert set(replies) == execution_ids
        recorded = {n["execution_id"]: n["notification_id"] for n in notifications}
        for execution_id, sent in replies.items():
            assert {m.value["notification_id"] for m in sent} == {recorded[execution_id]}
        completed = await by_execution(
            observer, "ExecutionCompleted", tenant_id, CONCURRENT, timeout=60
        )
        assert set(completed) == execution_ids
        print(
            f"[{victim} kill -9] duplicate events (allowed): "
            f"ReplySent {sum(map(len, replies.values())) - CONCURRENT}, "
            f"ExecutionCompleted {sum(map(len, completed.values())) - CONCURRENT}"
        )
    finally:
        await observer.stop()


@dataclass(frozen=True)
class Poison:
    what: str
    key: str
    value: bytes
    headers: dict[str, str]
    error_type: str | None  # None: any (retried then given up, or refused as permanent)
    error_says: str
    partition: int = -1
    offset: int = -1


def key_on(partition: int) -> str:
    """An execution-id-shaped key that Kafka's default partitioner puts on ``partition``."""
    every = list(range(COMMAND_PARTITIONS))
    while True:
        key = "exe_" + secrets.token_hex(12)
        if DefaultPartitioner()(key.encode(), every, every) == partition:
            return key


def poison_messages(tenant_id: str) -> list[Poison]:
    """Garbage on every partition (so every later execution queues behind one), an envelope
    of an unknown type, and a valid start command for an execution that does not exist."""
    garbage = [
        Poison("garbage", key_on(p), b"\xff\xfe\x00{not json", {}, "EnvelopeError", "missing")
        for p in range(COMMAND_PARTITIONS)
    ]
    unknown_key = key_on(0)
    unknown = Poison(
        "unknown ce_type",
        unknown_key,
        json.dumps({"command_id": "x", "execution_id": unknown_key}).encode(),
        {
            "ce_id": secrets.token_hex(8),
            "ce_type": "ExecutionTeleported",
            "ce_source": "/e2e/poison",
            "ce_specversion": "1.0",
            "ce_time": datetime.now(UTC).isoformat(),
            "tenant_id": tenant_id,
        },
        "EnvelopeError",
        "ExecutionTeleported",
    )
    missing_key = key_on(1)
    start = Envelope.wrap(
        ExecutionRequested(
            command_id=f"start:{missing_key}", execution_id=missing_key, tenant_id=tenant_id
        ),
        source="/e2e/poison",
        tenant_id=tenant_id,
    )
    missing = Poison(
        "no such execution",
        missing_key,
        start.body(),
        start.headers(),
        None,
        missing_key,
    )
    return [*garbage, unknown, missing]


async def publish(producer: AIOKafkaProducer, poison: Poison) -> Poison:
    sent = await producer.send_and_wait(
        topics.EXECUTION_COMMANDS,
        poison.value,
        key=poison.key.encode(),
        headers=[(k, v.encode()) for k, v in poison.headers.items()],
    )
    return Poison(**{**poison.__dict__, "partition": sent.partition, "offset": sent.offset})


@pytest.mark.timeout(300)
async def test_poison_commands_are_dead_lettered_while_executions_flow(stack, api, tenant) -> None:
    await api.activate(greeting_workflow("Greeting (poison)"))
    observer = KafkaObserver(stack.kafka, [topics.DEAD_LETTERS], alive=stack.assert_alive)
    await observer.start()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all")
    await producer.start()
    run = secrets.token_hex(3)
    try:
        before = await asyncio.gather(
            *(api.message(f"before {i}", conversation_id=f"{run}-b{i}") for i in range(6))
        )
        poisons = [await publish(producer, p) for p in poison_messages(tenant.tenant_id)]
        assert {p.partition for p in poisons} == set(range(COMMAND_PARTITIONS))
        after = await asyncio.gather(
            *(api.message(f"after {i}", conversation_id=f"{run}-a{i}") for i in range(24))
        )
        took = await stack.wait_for_executions(30, trigger_ids=[*before, *after], timeout=120)
        print(f"\n[poison] 30 executions around {len(poisons)} poison messages done in {took:.1f}s")

        letter_of: dict[tuple[int, int], dict[str, Any]] = {}
        for poison in poisons:
            origin = (topics.EXECUTION_COMMANDS, poison.partition, poison.offset)
            [dead, *_] = await observer.wait_for(
                lambda m, o=origin: (
                    m.type == "DeadLettered"
                    and (
                        m.value["original_topic"],
                        m.value["original_partition"],
                        m.value["original_offset"],
                    )
                    == o
                ),
                timeout=60,
            )
            letter = letter_of[poison.offset, poison.partition] = dead.value
            assert dead.key == poison.key, poison.what
            assert letter["consumer"] == "executor"
            assert letter["original_key"] == poison.key
            assert letter["original_value"] == poison.value.decode(errors="replace")
            assert letter["original_headers"] == poison.headers
            assert letter["error_type"], letter
            if poison.error_type:
                assert letter["error_type"] == poison.error_type, (poison.what, letter)
            assert poison.error_says in letter["error"], (poison.what, letter)
            assert letter["attempts"] >= 1
        assert stack.db.executions.find_one({"_id": poisons[-1].key}) is None

        # The services also keep dead letters in MongoDB, where the API lists them: a tenant
        # sees those of its own messages, the operator sees all (garbage has no tenant).
        def origin(letter: dict[str, Any]) -> tuple[int, int]:
            return letter["original_offset"], letter["original_partition"]

        query = {"original_topic": topics.EXECUTION_COMMANDS, "consumer": "executor"}
        for _ in range(60):
            stored = {origin(d): d for d in stack.db.dead_letters.find(query)}
            if set(letter_of) <= set(stored):
                break
            await asyncio.sleep(0.25)
        missing = [p.what for p in poisons if (p.offset, p.partition) not in stored]
        assert not missing, f"not in the `dead_letters` collection: {missing}"
        for key, letter in letter_of.items():
            assert stored[key]["_id"] == letter["dead_letter_id"]
            assert stored[key]["error"] == letter["error"]

        params = {"consumer": "executor", "topic": topics.EXECUTION_COMMANDS, "limit": 200}
        mine = await api.http.get("/v1/dead-letters", params=params, headers=tenant.headers)
        assert mine.status_code == 200, mine.text
        with_tenant = {(p.offset, p.partition) for p in poisons if p.headers}
        assert {origin(d) for d in mine.json()["dead_letters"]} == with_tenant
        operator = {"X-Admin-Token": stack.env["GATEWAY_ADMIN_TOKEN"]}
        admin = await api.http.get("/v1/dead-letters", params=params, headers=operator)
        assert admin.status_code == 200, admin.text
        assert set(letter_of) <= {origin(d) for d in admin.json()["dead_letters"]}
    finally:
        await producer.stop()
        await observer.stop()
