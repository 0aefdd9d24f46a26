"""The watchdog's scans over an in-memory store: the slots read by equality, each once; the
first scan after assignment a lease late and by status; findings recorded, sent to the
executor on the commands topic, counted; nothing while another replica owns partition 0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Envelope, topics
from contracts.events import ExecutionRepairRequested
from contracts.watchdog import bucket_of, watch_key
from scheduler.domain.watchdog import GroupState
from scheduler.watchdog import Watchdog

NOW = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
LEASE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Store:
    """Executions with their watch fields, as the executor derives them; counts queries."""

    def __init__(self) -> None:
        self.executions: dict[str, dict[str, Any]] = {}
        self.pending_timers: set[str] = set()
        self.findings: dict[str, dict[str, Any]] = {}
        self.queries: list[str] = []

    def put(self, execution_id: str, status: str, at: datetime, **more: Any) -> None:
        doc = {
            "_id": execution_id,
            "tenant_id": "ten_1",
            "workflow_id": "wf_1",
            "status": status,
            "version": 1,
            "created_at": at,
            "updated_at": at,
            **more,
        }
        deadline = doc.get("wait_deadline_at")
        doc["watch"] = watch_key(status, bucket_of(at, 60))
        doc["watch_deadline"] = bucket_of(deadline, 60) if deadline else None
        self.executions[execution_id] = doc

    async def watched(self, key: str) -> list[dict[str, Any]]:
        self.queries.append(f"watch={key}")
        return [d for d in self.executions.values() if d["watch"] == key]

    async def deadline_in(self, slot: int) -> list[dict[str, Any]]:
        self.queries.append(f"deadline={slot}")
        return [d for d in self.executions.values() if d["watch_deadline"] == slot]

    async def with_status(self, status: str) -> list[dict[str, Any]]:
        self.queries.append(f"status={status}")
        return [d for d in self.executions.values() if d["status"] == status]

    async def execution(self, execution_id: str) -> dict[str, Any] | None:
        return self.executions.get(execution_id)

    async def timer_pending(self, timer_id: str) -> bool:
        return timer_id in self.pending_timers

    async def pending_timer_ids(self, partition: int) -> set[str]:
        self.queries.append(f"timers={partition}")
        return set(self.pending_timers) if partition == 0 else set()

    async def record(self, finding: dict[str, Any]) -> bool:
        if finding["_id"] in self.findings:
            return False
        self.findings[finding["_id"]] = finding
        return True


class Sent:
    def __init__(self) -> None:
        self.commands: list[tuple[str, bytes | None, ExecutionRepairRequested]] = []

    async def __call__(self, value: bytes, topic: str, key: bytes | None, headers: Any) -> None:
        event = Envelope.parse(headers, value).data
        assert isinstance(event, ExecutionRepairRequested)
        self.commands.append((topic, key, event))


class Groups:
    def __init__(self) -> None:
        self.states_now = [GroupState("connectflo-notifier", 0, 7)]

    async def states(self) -> list[GroupState]:
        return self.states_now


def watchdog(
    store: Store, sent: Sent, clock: Clock, owned: frozenset[int] = frozenset({0})
) -> Watchdog:
    return Watchdog(
        store,
        sent,
        lambda: owned,
        lease_seconds=LEASE,
        interval_seconds=1,
        bucket_seconds=60,
        groups=Groups(),
        clock=clock,
    )


async def test_the_first_scan_waits_a_lease_then_reads_by_status_and_repairs() -> None:
    store, sent, clock = Store(), Sent(), Clock()
    store.put("exe_lost", "created", NOW - timedelta(minutes=10))
    store.put("exe_fresh", "created", NOW + timedelta(seconds=30))  # within the lease
    store.put("exe_done", "completed", NOW - timedelta(minutes=10))
    dog = watchdog(store, sent, clock)
    assert await dog.scan() == []  # owned a moment ago: the timers consumer catches up first
    clock.now = NOW + timedelta(seconds=LEASE)
    (finding,) = await dog.scan()
    assert store.queries == ["status=created", "status=running", "status=waiting"]
    assert (finding.execution_id, finding.kind, finding.action) == (
        "exe_lost",
        "not_started",
        "resend",
    )
    ((topic, key, command),) = sent.commands
    assert topic == topics.EXECUTION_COMMANDS and key == b"exe_lost"
    assert command.expected_version == 1 and command.reason == finding.reason
    assert store.findings["exe_lost:1:resend"]["reason"] == finding.reason


async def test_later_scans_read_each_slot_once_by_equality() -> None:
    store, sent, clock = Store(), Sent(), Clock()
    dog = watchdog(store, sent, clock)
    await dog.scan()
    clock.now = NOW + timedelta(seconds=LEASE)
    await dog.scan()
    store.queries.clear()
    store.put("exe_run", "running", clock.now)  # its slot passes the lease a minute on
    clock.now += timedelta(seconds=120)
    (finding,) = await dog.scan()
    assert finding.kind == "no_progress"
    assert all(q.startswith(("watch=", "deadline=")) for q in store.queries)
    assert len(store.queries) == 2 * 4  # two slots came due: three statuses and a deadline
    store.queries.clear()
    assert await dog.scan() == [] and store.queries == []  # no new slot: no query


async def test_a_waiting_execution_without_its_deadline_timer_is_resent_then_failed() -> None:
    store, sent, clock = Store(), Sent(), Clock()
    since = NOW - timedelta(minutes=5)
    deadline = NOW + timedelta(days=7)
    store.put("exe_w", "waiting", since, wait_deadline_at=deadline, deadline_effect="deadline:1")
    store.put("exe_ok", "waiting", since, wait_deadline_at=deadline, deadline_effect="deadline:1")
    store.pending_timers.add("exe_ok:deadline:1")
    dog = watchdog(store, sent, clock)
    await dog.scan()
    clock.now = NOW + timedelta(seconds=LEASE)
    (finding,) = await dog.scan()
    assert (finding.execution_id, finding.kind, finding.action) == ("exe_w", "unwakeable", "resend")
    # the executor never applies it: two leases on, it is failed, saying so
    clock.now += timedelta(seconds=2 * LEASE)
    (failed,) = await dog.scan()
    assert failed.action == "fail" and "was not applied" in failed.reason
    assert [c.action for _t, _k, c in sent.commands] == ["resend", "fail"]


async def test_an_overdue_wait_is_found_by_its_deadline_slot() -> None:
    store, sent, clock = Store(), Sent(), Clock()
    dog = watchdog(store, sent, clock)
    await dog.scan()
    clock.now = NOW + timedelta(seconds=LEASE)
    await dog.scan()
    deadline = clock.now + timedelta(seconds=30)
    store.put("exe_o", "waiting", NOW - timedelta(days=7), wait_deadline_at=deadline)
    store.pending_timers.add("exe_o:deadline:1")
    clock.now = deadline + timedelta(seconds=LEASE + 61)
    (finding,) = await dog.scan()
    assert (finding.kind, finding.action) == ("overdue", "fail")


async def test_nothing_is_scanned_without_partition_0() -> None:
    store, sent, clock = Store(), Sent(), Clock()
    store.put("exe_lost", "created", NOW - timedelta(minutes=10))
    dog = watchdog(store, sent, clock, owned=frozenset({1, 2}))
    clock.now += timedelta(hours=1)
    assert await dog.scan() == [] and await dog.check_groups() == []
    assert store.queries == [] and sent.commands == []


async def test_a_group_with_lag_and_no_members_is_reported() -> None:
    dog = watchdog(Store(), Sent(), Clock())
    (group,) = await dog.check_groups()
    assert group.group == "connectflo-notifier" and group.lag == 7
    assert await dog.check_groups() == []  # checked again only a minute later


async def test_many_waiting_executions_have_their_timers_read_by_partition() -> None:
    store, sent, clock = Store(), Sent(), Clock()
    since, deadline = NOW - timedelta(minutes=5), NOW + timedelta(days=7)
    for i in range(60):
        store.put(
            f"exe_{i}", "waiting", since, wait_deadline_at=deadline, deadline_effect="deadline:1"
        )
        if i != 7:
            store.pending_timers.add(f"exe_{i}:deadline:1")
    dog = watchdog(store, sent, clock)
    await dog.scan()
    clock.now = NOW + timedelta(seconds=LEASE)
    (finding,) = await dog.scan()
    assert finding.execution_id == "exe_7" and finding.kind == "unwakeable"
    assert [q for q in store.queries if q.startswith("timers=")] == [
        f"timers={p}" for p in range(6)
    ]
