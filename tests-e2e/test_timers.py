"""Durable timers from the outside: a Wait/Delay resumes after its duration, late (never lost)
when the scheduler was down, exactly once, not at all when cancelled, and shared between two
scheduler replicas by partition; and what the scheduler asks of the MongoDB-wire server."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from conftest import SERVICES
from contracts import Envelope, topics
from contracts.envelope import NO_TRACE
from contracts.events import TimerCancelRequested, TimerRequested
from kafka_observer import KafkaObserver
from pymongo import AsyncMongoClient, monitoring
from scheduler.adapters.store import TimerRepository, ensure_indexes
from scheduler.domain.timers import CancelOutcome, bucket_of, timer_document, tombstone_document
from servicekit.mongo import Mongo

pytestmark = pytest.mark.e2e

RUN = Path(__file__).resolve().parents[1] / ".run" / "e2e"
SCHEDULER_PORT = SERVICES["scheduler"].port
SECOND_SCHEDULER_PORT = SCHEDULER_PORT + 10
LATENESS: list[tuple[str, float]] = []  # (scenario, seconds), printed at the end of the module


def wait_workflow(duration: str = "3s", name: str = "Follow up later") -> dict[str, Any]:
    """trigger -> Wait/Delay -> Send Reply."""
    return {
        "name": name,
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            {
                "id": "wait",
                "type": "logic",
                "label": "Wait/Delay",
                "config": {"duration": duration},
            },
            {
                "id": "reply",
                "type": "action",
                "label": "Send Reply",
                "config": {"message": "Still there, {{customer.name}}?"},
            },
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "wait"},
            {"id": "e2", "source": "wait", "target": "reply"},
        ],
    }


class Timers:
    """One tenant's view: workflows in, triggers in, executions and timers out."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str], mongo: Any) -> None:
        self.http, self.headers, self.mongo = http, headers, mongo

    async def activate(self, workflow: dict[str, Any]) -> None:
        saved = await self.http.post("/v1/workflows", json=workflow, headers=self.headers)
        assert saved.status_code == 201, saved.text
        active = await self.http.post(
            f"/v1/workflows/{saved.json()['id']}/activate", headers=self.headers
        )
        assert active.status_code == 200, active.text

    async def message(self, conversation_id: str) -> str:
        accepted = await self.http.post(
            "/v1/events/incoming_message",
            json={
                "conversation_id": conversation_id,
                "channel": "chat",
                "payload": {"text": "ok, thanks"},
                "customer": {"name": "Ada"},
            },
            headers=self.headers,
        )
        assert accepted.status_code == 202, accepted.text
        trigger_id: str = accepted.json()["trigger_id"]
        return trigger_id

    async def execution(
        self, trigger_id: str, *statuses: str, timeout: float = 30
    ) -> dict[str, Any]:
        """The trigger's execution once it is in one of ``statuses``, with its timeline."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            listed = await self.http.get(
                "/v1/executions", params={"trigger_id": trigger_id}, headers=self.headers
            )
            assert listed.status_code == 200, listed.text
            for summary in listed.json()["executions"]:
                seen = summary["status"]
                if seen in statuses:
                    one = await self.http.get(
                        f"/v1/executions/{summary['id']}", headers=self.headers
                    )
                    assert one.status_code == 200, one.text
                    return dict(one.json())
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"trigger {trigger_id}: no execution {statuses} in {timeout}s ({seen})"
        )

    async def timer(self, execution_id: str, *statuses: str, timeout: float = 30) -> dict[str, Any]:
        """The timer of the execution's Wait/Delay node once it is in one of ``statuses``
        (the executor has other timers: a waiting-time deadline per wait)."""
        deadline = time.monotonic() + timeout
        query = {"execution_id": execution_id, "node_id": "wait"}
        doc = None
        while time.monotonic() < deadline:
            doc = await asyncio.to_thread(self.mongo.timers.find_one, query)
            if doc is not None and doc["status"] in statuses:
                return dict(doc)
            await asyncio.sleep(0.05)
        raise AssertionError(f"timer of {execution_id} not {statuses} in {timeout}s: {doc}")


@pytest.fixture
def timers(http, tenant, mongo) -> Timers:  # type: ignore[no-untyped-def]
    return Timers(http, tenant.headers, mongo)


@pytest.fixture
async def commands(stack) -> AsyncIterator[KafkaObserver]:  # type: ignore[no-untyped-def]
    """Every command published from now on, as a plain Kafka consumer sees it."""
    observer = KafkaObserver(stack.kafka, [topics.EXECUTION_COMMANDS])
    await observer.start()
    yield observer
    await observer.stop()


def settlements_of(observer: KafkaObserver, idempotency_key: str) -> list[Any]:
    return [
        m
        for m in observer.seen
        if m.type == "EffectSettled" and m.value["idempotency_key"] == idempotency_key
    ]


def lateness(timer: dict[str, Any]) -> float:
    return float((timer["fired_at"] - timer["fire_at"]).total_seconds())


def metric(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module", autouse=True)
def report_lateness() -> Iterator[None]:
    yield
    for scenario, seconds in LATENESS:
        print(f"\ntimer lateness ({scenario}): {seconds * 1000:.0f} ms")


async def test_a_wait_resumes_after_its_duration_once(stack, timers, commands) -> None:
    await timers.activate(wait_workflow("3s"))
    trigger_id = await timers.message("conv-wait")

    execution = await timers.execution(trigger_id, "completed", "failed")
    assert execution["status"] == "completed", execution
    assert execution["execution_time_ms"] >= 3000
    assert [(n["node_id"], n["status"]) for n in execution["timeline"]][:4] == [
        ("t", "completed"),
        ("wait", "waiting"),
        ("wait", "completed"),
        ("reply", "waiting"),
    ]
    timer = await timers.timer(execution["id"], "fired")
    assert 0 <= timer["partition"] < 6
    assert timer["fired_at"] >= timer["fire_at"]
    LATENESS.append(("scheduler up", lateness(timer)))

    await asyncio.sleep(1)  # a second firing would have come by now
    settled = settlements_of(commands, timer["_id"])
    assert len(settled) == 1
    assert settled[0].key == execution["id"]


async def test_a_timer_due_while_the_scheduler_was_down_fires_late_not_lost(
    stack, timers, commands
) -> None:
    await timers.activate(wait_workflow("3s", "Follow up after a crash"))
    trigger_id = await timers.message("conv-crash")
    waiting = await timers.execution(trigger_id, "waiting")
    stored = await timers.timer(waiting["id"], "pending")
    stack.kill("scheduler")  # kill -9, right after the execution started waiting

    due_in = (stored["fire_at"] - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, due_in) + 1.5)
    assert (await timers.timer(waiting["id"], "pending"))["status"] == "pending"
    assert (await timers.execution(trigger_id, "waiting"))["status"] == "waiting"
    restarted_at = datetime.now(UTC)
    await asyncio.to_thread(stack.start, "scheduler")

    execution = await timers.execution(trigger_id, "completed", "failed", timeout=60)
    assert execution["status"] == "completed", execution
    fired = await timers.timer(waiting["id"], "fired")
    assert fired["fired_at"] >= restarted_at, "fired by the restarted scheduler, late"
    assert fired["fired_by"].endswith(f":{stack.processes['scheduler'].pid}")
    LATENESS.append(("scheduler down until 1.5 s after due", lateness(fired)))

    await asyncio.sleep(1)
    assert len(settlements_of(commands, stored["_id"])) == 1


async def test_a_cancelled_timer_never_fires(stack, timers, commands) -> None:
    await timers.activate(wait_workflow("2s", "Cancelled follow-up"))
    trigger_id = await timers.message("conv-cancel")
    waiting = await timers.execution(trigger_id, "waiting")
    stored = await timers.timer(waiting["id"], "pending")

    cancel = TimerCancelRequested(
        idempotency_key=stored["_id"],
        execution_id=waiting["id"],
        tenant_id=stored["tenant_id"],
    )
    envelope = Envelope.wrap(cancel, source="/e2e", tenant_id=stored["tenant_id"])
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.TIMER_REQUESTS,
            envelope.body(),
            key=waiting["id"].encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )
    finally:
        await producer.stop()
    await timers.timer(waiting["id"], "cancelled")

    due_in = (stored["fire_at"] - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, due_in) + 1.5)
    assert settlements_of(commands, stored["_id"]) == []
    assert (await timers.timer(waiting["id"], "cancelled"))["status"] == "cancelled"
    assert (await timers.execution(trigger_id, "waiting"))["status"] == "waiting"


async def test_a_poison_timer_request_is_dead_lettered_and_recorded(stack, mongo) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.TIMER_REQUESTS, b"{not json", key=b"poison-timer", headers=[]
        )
    finally:
        await producer.stop()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        query = {"consumer": "scheduler", "original_key": "poison-timer"}
        dead = await asyncio.to_thread(mongo.dead_letters.find_one, query)
        if dead is not None:
            break
        await asyncio.sleep(0.1)
    assert dead is not None, "no dead letter recorded"
    assert dead["_id"] == dead["dead_letter_id"]
    assert dead["original_topic"] == topics.TIMER_REQUESTS
    assert dead["original_value"] == "{not json"


class Commands(monitoring.CommandListener):
    """The commands a client sends that read or write documents, and their filters."""

    NAMES = frozenset({"find", "getMore", "insert", "update", "findAndModify", "delete"})

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.filters: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name, command = event.command_name, event.command
        if name not in self.NAMES:
            return
        self.sent.append(name)
        if name == "find":
            self.filters.append(command["filter"])
        elif name == "findAndModify":
            self.filters.append(command["query"])
        elif name in ("update", "delete"):
            self.filters.extend(statement["q"] for statement in command[name + "s"])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def since(self) -> list[str]:
        """The commands sent since the last call."""
        sent, self.sent = self.sent, []
        return sent


CANCEL_COMMANDS = {  # of a pending timer, of one whose request has not come, of a fired one
    False: (["findAndModify"], ["findAndModify", "insert"], ["findAndModify", "insert", "find"]),
    True: (["find", "update"], ["find", "insert"], ["find"]),  # storage filtering by _id alone
}


@pytest.mark.parametrize("cancel_by_read", [False, True])
async def test_the_scheduler_asks_only_what_the_server_filters_in_its_storage(
    stack, cancel_by_read
) -> None:
    """Storing a timer is one insert, cancelling it one findAndModify (a tombstone one more),
    firing a page one update; every filter the running scheduler sends is an equality the
    server applies in its storage (FerretDB: pushed down to PostgreSQL, where each of these
    fields has an index, instead of reading and decoding every timer)."""
    commands = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        stack.mongo_uri, tz_aware=True, event_listeners=[commands]
    )
    db = client["timers_" + secrets.token_hex(4)]
    timers = TimerRepository(db, cancel_by_read=cancel_by_read)
    cancel_pending, cancel_early, cancel_fired = CANCEL_COMMANDS[cancel_by_read]
    now = datetime.now(UTC)

    def timer(key: str, fire_at: datetime) -> dict[str, Any]:
        request = TimerRequested(
            idempotency_key=key,
            execution_id="exe_1",
            tenant_id="ten_1",
            effect_id=key.split(":", 1)[1],
            node_id="wait",
            fire_at=fire_at,
        )
        return timer_document(request, partition=0, trace=NO_TRACE, stored_at=now)

    async def cancel(key: str) -> tuple[CancelOutcome, dict[str, Any] | None]:
        request = TimerCancelRequested(idempotency_key=key, execution_id="exe_1", tenant_id="ten_1")
        tombstone = tombstone_document(request, partition=0, cancelled_at=now)
        return await timers.cancel(key, tombstone, now)

    due, later = timer("exe_1:due:1", now - timedelta(seconds=1)), timer("exe_1:later:1", now)
    old = timer("exe_1:old:1", now - timedelta(hours=1))
    try:
        await ensure_indexes(db)
        server = Mongo(client, db)
        ferretdb, pushes_down = (
            await server.is_ferretdb(),
            await server.pushes_down_fields("timers"),
        )
        if not pushes_down and not cancel_by_read:
            pytest.skip("the storage filters by _id alone: the scheduler cancels by read there")
        await db.timers.insert_one({k: v for k, v in old.items() if k != "bucket"})  # as before
        commands.since()
        commands.filters.clear()

        assert await timers.add(due)
        assert not await timers.add(due)  # a redelivery
        assert await timers.add(later)
        assert commands.since() == ["insert"] * 3
        outcome, cancelled = await cancel("exe_1:later:1")
        assert (outcome, cancelled and cancelled["_id"]) == (CancelOutcome.CANCELLED, later["_id"])
        assert commands.since() == cancel_pending
        assert (await cancel("exe_1:early:1"))[0] is CancelOutcome.TOMBSTONE
        assert commands.since() == cancel_early
        assert not await timers.add(timer("exe_1:early:1", now))  # after its cancel
        commands.since()

        buckets = await timers.pending_buckets(0)  # when partition 0 is assigned
        assert buckets == {bucket_of(t["fire_at"]): t["fire_at"] for t in (due, old)}
        assert commands.since() == ["find", "update"]  # the old timer got its bucket
        assert [t["_id"] for t in await timers.pending(0, old["bucket"])] == [old["_id"]]
        page = await timers.pending(0, due["bucket"])
        assert [t["_id"] for t in page] == [due["_id"]]
        await timers.mark_fired(page, now, "e2e")
        assert commands.since() == ["find", "find", "update"]
        assert await timers.pending(0, due["bucket"]) == []
        commands.since()
        assert (await cancel("exe_1:due:1"))[0] is CancelOutcome.TOO_LATE
        assert commands.since() == cancel_fired

        assert all(not isinstance(v, dict) for f in commands.filters for v in f.values())
        if ferretdb and pushes_down:
            for query in commands.filters:
                plan = await db.command("explain", {"find": "timers", "filter": query})
                sql = json.dumps(plan["queryPlanner"])  # PostgreSQL's plan
                assert plan["filterPushdown"], query
                assert all(f"-> '{field}'" in sql for field in query), (query, sql)
    finally:
        await client.drop_database(db.name)
        await client.close()


@pytest.fixture
def second_scheduler(stack) -> Iterator[subprocess.Popen[bytes]]:  # type: ignore[no-untyped-def]
    """Another scheduler replica in the same consumer group."""
    env = {**stack.env, "SCHEDULER_PORT": str(SECOND_SCHEDULER_PORT)}
    with (RUN / "scheduler-2.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "scheduler"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


async def owned(port: int) -> float:
    try:
        return await asyncio.to_thread(metric, port, "connectflo_scheduler_owned_partitions")
    except httpx.HTTPError:
        return 0.0


@pytest.mark.timeout(300)
async def test_two_replicas_share_timers_by_partition_and_one_takes_over_from_the_other(
    stack, timers, commands, second_scheduler
) -> None:
    deadline = time.monotonic() + 60
    while not (
        await owned(SCHEDULER_PORT) > 0
        and await owned(SECOND_SCHEDULER_PORT) > 0
        and await owned(SCHEDULER_PORT) + await owned(SECOND_SCHEDULER_PORT) == 6
    ):
        assert time.monotonic() < deadline, "the two replicas never split the partitions"
        await asyncio.sleep(0.2)
    # Long enough that all 12 second-phase timers are still pending when the replica is killed,
    # on a machine as slow as a CI runner shared with Kafka, FerretDB and five services.
    await timers.activate(wait_workflow("15s", "Follow up, two replicas"))

    # Both replicas fire: each the timers of its own partitions, each timer once.
    first = await asyncio.gather(*(timers.message(f"conv-shared-{n}") for n in range(12)))
    done = [await timers.execution(t, "completed", "failed", timeout=60) for t in first]
    assert {e["status"] for e in done} == {"completed"}
    fired = [await timers.timer(e["id"], "fired") for e in done]
    assert len({t["fired_by"] for t in fired}) == 2, [t["fired_by"] for t in fired]
    LATENESS.extend(("two replicas", lateness(t)) for t in fired[:1])

    # The second replica dies with timers pending: the first takes its partitions, fires them.
    second = await asyncio.gather(*(timers.message(f"conv-takeover-{n}") for n in range(12)))
    waiting = await asyncio.gather(*(timers.execution(t, "waiting") for t in second))
    pending = await asyncio.gather(*(timers.timer(e["id"], "pending") for e in waiting))
    assert min(t["fire_at"] for t in pending) > datetime.now(UTC), "killed too late"
    second_scheduler.kill()
    second_scheduler.wait(10)
    done = [await timers.execution(t, "completed", "failed", timeout=90) for t in second]
    assert {e["status"] for e in done} == {"completed"}
    fired = [await timers.timer(e["id"], "fired") for e in done]
    survivor = stack.processes["scheduler"].pid
    assert {t["fired_by"].rsplit(":", 1)[1] for t in fired} == {str(survivor)}
    taken_over = [lateness(t) for t in fired]
    LATENESS.append(("replica killed, partitions taken over (max)", max(taken_over)))

    await asyncio.sleep(1)
    keys = [t["_id"] for t in pending] + [t["_id"] for t in fired]
    counts = Counter(m.value["idempotency_key"] for m in commands.seen if m.type == "EffectSettled")
    assert {key: counts[key] for key in keys} == dict.fromkeys(keys, 1)
