"""`make bench-timers`'s two phases (bench/timers.py): timers due within one minute, and
schedules firing every minute. What fired when is read after the fact (the `timers` documents,
the executions, the Scheduled triggers seen on Kafka), so watching costs the system nothing
while it fires; CPU and MongoDB time come from the stack bench's Meter."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import re
import secrets
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from contracts import topics
from pymongo import MongoClient

from .meter import SECONDS, Meter, Snapshot
from .progress import log
from .rawhttp import RawHttp
from .results import percentile
from .services import Stack
from .settings import ADMIN_TOKEN, CLK_TCK, KAFKA, PARTITIONS, PORT_BASE, SERVICES
from .workload import execution_id_for

Document = dict[str, Any]
MINUTE = timedelta(minutes=1)
# every-minute fires land on :00 in each (Kolkata +5:30, Kathmandu +5:45, Adelaide +10:30)
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
)

TIMER_WORKFLOW: Document = {
    "name": "Bench: wait until the trigger's time",
    "triggerType": "Incoming Message",
    "nodes": [
        {
            "id": "t",
            "type": "trigger",
            "label": "Incoming Message",
            "config": {"channels": ["chat"]},
        },
        {
            "id": "w",
            "type": "logic",
            "label": "Wait/Delay",
            "config": {"until": "{{trigger.fireAt}}"},
        },
        {
            "id": "set",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.woke", "value": "{{trigger.fireAt}}"},
        },
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "w"},
        {"id": "e2", "source": "w", "target": "set"},
    ],
}
SCHEDULED_WORKFLOW: Document = {
    "name": "Bench: every minute",
    "triggerType": "Scheduled",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Scheduled", "config": {}},
        {
            "id": "set",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.planned", "value": "{{trigger.scheduledFor}}"},
        },
    ],
    "edges": [{"id": "e1", "source": "t", "target": "set"}],
}


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        q: percentile(ordered, v)
        for q, v in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
    }


def utc(at: datetime) -> datetime:
    """pymongo gives naive UTC datetimes back."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def next_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0) + MINUTE


async def sleep_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


def metric(text: str, name: str) -> float:
    """The sum of a Prometheus metric's samples (all label sets)."""
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return sum(float(v) for v in pattern.findall(text))


def costs(before: Snapshot, after: Snapshot, work: int) -> Document:
    """CPU per process (% of a core, ms per unit of work) and each service's MongoDB commands
    (count and driver-side ms each, from bench/service_hook.py) between two snapshots."""
    span = after.at - before.at
    cpu = {}
    for name, ticks in after.cpu.items():
        first = before.cpu.get(name)
        if ticks is None or first is None:
            continue
        seconds = (ticks - first) / CLK_TCK
        cpu[name] = {
            "percent": seconds / span * 100,
            "ms_per_unit": seconds * 1000 / work if work else math.nan,
        }
    mongo: Document = {}
    for service, now in after.mongo_by_service.items():
        then = before.mongo_by_service.get(service, {})
        delta = {k: v - then.get(k, 0.0) for k, v in now.items() if v - then.get(k, 0.0)}
        mongo[service] = {
            k: {"commands": n, "ms_each": delta.get(k + SECONDS, 0.0) * 1000 / n}
            for k, n in delta.items()
            if not k.endswith(SECONDS)
        }
    return {"seconds": span, "cpu": cpu, "mongo": mongo}


class Bench:
    """One tenant with both workflows on the bench's stack."""

    def __init__(self, args: argparse.Namespace, stack: Stack, mongo: MongoClient[Any]) -> None:
        self.args = args
        self.stack = stack
        self.db = mongo[stack.database]
        self.meter = Meter(stack, mongo)
        self.offsets = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        self.auth: dict[str, str] = {}
        self.tenant_id = ""
        self.workflows: dict[str, str] = {}
        self.http: RawHttp | None = None
        self.run_id = secrets.token_hex(3)
        self.seq = itertools.count()  # a conversation per trigger, none shared

    async def setup(self) -> None:
        async with httpx.AsyncClient(base_url=self.stack.url("gateway"), timeout=30) as http:
            made = await http.post(
                "/v1/tenants", json={"name": "Bench"}, headers={"X-Admin-Token": ADMIN_TOKEN}
            )
            made.raise_for_status()
            self.tenant_id = made.json()["tenant_id"]
            self.auth = {"Authorization": f"Bearer {made.json()['api_key']}"}
            for name, workflow in (("timer", TIMER_WORKFLOW), ("scheduled", SCHEDULED_WORKFLOW)):
                saved = await http.post("/v1/workflows", json=workflow, headers=self.auth)
                if saved.status_code != 201:
                    raise RuntimeError(f"workflow not saved: {saved.status_code} {saved.text}")
                self.workflows[name] = saved.json()["id"]
                active = await http.post(
                    f"/v1/workflows/{self.workflows[name]}/activate", headers=self.auth
                )
                active.raise_for_status()
        self.http = RawHttp("127.0.0.1", PORT_BASE + SERVICES["gateway"].offset, self.auth)
        await self.offsets.start()
        self.meter.start(self.offsets)

    async def close(self) -> None:
        if self.http is not None:
            self.http.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self.offsets.stop()

    async def scheduler(self, name: str) -> float:
        async with httpx.AsyncClient(timeout=30) as http:
            text = (await http.get(f"{self.stack.url('scheduler')}/metrics")).text
        return metric(text, name)

    async def until_metric(self, name: str, target: float, deadline: datetime, what: str) -> float:
        """Poll the scheduler's metric until it reaches ``target`` or ``deadline`` passes."""
        said = time.monotonic()
        while True:
            value = await self.scheduler(name)
            if value >= target or datetime.now(UTC) >= deadline:
                return value
            if time.monotonic() - said > 10:
                log(f"{what}: {value:.0f} of {target:.0f}")
                said = time.monotonic()
            await asyncio.sleep(0.5)

    async def until_waits(self, query: Document, target: int, deadline: datetime, what: str) -> int:
        """Poll the count of the Wait/Delay node's timers matching ``query`` (each waiting
        execution also has a deadline timer: the metrics count both)."""
        said = time.monotonic()
        while True:
            count = await asyncio.to_thread(
                self.db.timers.count_documents, {"node_id": "w", **query}
            )
            if count >= target or datetime.now(UTC) >= deadline:
                return count
            if time.monotonic() - said > 10:
                log(f"{what}: {count} of {target}")
                said = time.monotonic()
            await asyncio.sleep(1)

    # -- timers -------------------------------------------------------------------------------

    async def post(
        self, fire_times: list[datetime], clients: int
    ) -> tuple[list[str], Counter[int]]:
        """One trigger (a conversation each) per fire time, ``clients`` at a time, each retried
        until accepted; the execution ids, and the refusals on the way."""
        assert self.http is not None
        http = self.http
        work = iter(enumerate(fire_times))
        executions: list[str] = []
        refused: Counter[int] = Counter()

        async def client() -> None:
            for i, at in work:
                body = json.dumps(
                    {
                        "conversation_id": f"timers-{self.run_id}-{next(self.seq)}",
                        "channel": "chat",
                        "payload": {"text": "call me later", "fireAt": at.isoformat()},
                        "customer": {"id": f"cust-{i}", "name": "Bench"},
                    }
                ).encode()
                for _attempt in range(20):
                    try:
                        status, payload = await http.post("/v1/events/incoming_message", body)
                    except (OSError, asyncio.IncompleteReadError):
                        status, payload = 599, b""
                    if status == 202:
                        trigger = json.loads(payload)["trigger_id"]
                        executions.append(execution_id_for(trigger, self.workflows["timer"]))
                        break
                    refused[status] += 1
                    await asyncio.sleep(0.2)

        await asyncio.gather(*(client() for _ in range(clients)))
        return executions, refused

    async def warm_up(self, count: int, clients: int) -> float:
        """``count`` timers due in a few seconds: the path warmed, and the rate at which
        triggers become stored timers (which sets how far ahead the due minute must be)."""
        fired = await self.scheduler("connectflo_scheduler_timers_fired_total")
        began = time.perf_counter()
        due = datetime.now(UTC) + timedelta(seconds=3 + count / 50)
        await self.post([due] * count, clients)
        deadline = datetime.now(UTC) + timedelta(seconds=120)
        got = await self.until_waits({}, count, deadline, "warm-up stored")
        rate = got / (time.perf_counter() - began)
        await self.until_metric(
            "connectflo_scheduler_timers_fired_total", fired + count, deadline, "warm-up fired"
        )
        await asyncio.sleep(3)  # their executions finish
        return rate

    async def timers(self) -> Document:
        n, clients, width = self.args.timers, self.args.clients, self.args.spread
        rate = await self.warm_up(min(300, max(50, n // 20)), clients)
        lead = self.args.lead or n / max(rate, 1.0) * 1.5 + 20
        minute = next_minute(datetime.now(UTC) + timedelta(seconds=lead))
        fire_times = [minute + timedelta(seconds=width * i / n) for i in range(n)]
        log(
            f"timers: warm-up stored {rate:.0f}/s; {n} timers due "
            f"{minute:%H:%M:%S}-{fire_times[-1]:%H:%M:%S} UTC"
            + (f" (spread over {width:g} s)" if width else " (at one instant)")
        )
        fired0 = await self.scheduler("connectflo_scheduler_timers_fired_total")
        before_post = await self.meter.snapshot()
        executions, refused = await self.post(fire_times, clients)
        posted = await self.meter.snapshot()
        log(f"timers: {len(executions)} posted in {posted.at - before_post.at:.1f} s")
        stored = await self.until_waits({"status": "pending"}, n, minute, "timers stored")
        stored_snapshot = await self.meter.snapshot()
        spare = (minute - datetime.now(UTC)).total_seconds()
        log(f"timers: {stored} stored, {spare:.1f} s before the first is due")
        if spare > 8:  # the scheduler's CPU while it only waits
            await sleep_until(minute - timedelta(seconds=6))
            idle_from = await self.meter.snapshot()
            await sleep_until(minute - timedelta(seconds=1))
            idle = costs(idle_from, await self.meter.snapshot(), 1)
        else:
            idle = None
            await sleep_until(minute - timedelta(seconds=1))
        cancels = await self.scheduler("connectflo_scheduler_timer_cancels_total")
        before = await self.meter.snapshot()
        last_due = fire_times[-1] + timedelta(seconds=120)
        fired = await self.until_metric(
            "connectflo_scheduler_timers_fired_total", fired0 + n, last_due, "timers fired"
        )
        after = await self.meter.snapshot()
        cancels = await self.scheduler("connectflo_scheduler_timer_cancels_total") - cancels
        done = await self.completed(self.workflows["timer"], set(executions), 120)
        return {
            "timers": n,
            "spread_seconds": width,
            "due_from": minute.isoformat(),
            "clients": clients,
            "warm_up_stored_per_s": rate,
            "posted": len(executions),
            "post_refusals": dict(refused),
            "post_seconds": posted.at - before_post.at,
            "stored": stored,
            "stored_seconds": stored_snapshot.at - before_post.at,
            "spare_seconds": spare,
            "fired_metric": fired - fired0,
            # a finished execution cancels its deadline timer: work of the firing window too
            "cancels_in_window": cancels,
            **self.firing(set(executions), done),
            "storing": costs(before_post, stored_snapshot, n),
            "idle": idle,
            "firing_window": costs(before, after, n),
        }

    def firing(self, executions: set[str], done: dict[str, datetime]) -> Document:
        """Per timer, from its document: fired_at - fire_at; per execution, finished_at -
        fire_at (resumed and finished); and the pages the loop fired them in."""
        fired, stored_late, finished = [], 0, []
        pages: Counter[datetime] = Counter()
        projection = {"execution_id": 1, "fire_at": 1, "fired_at": 1, "stored_at": 1}
        for doc in self.db.timers.find({"node_id": "w", "status": "fired"}, projection=projection):
            if doc["execution_id"] not in executions:
                continue
            due = utc(doc["fire_at"])
            fired.append((utc(doc["fired_at"]) - due).total_seconds() * 1000)
            pages[doc["fired_at"]] += 1
            stored_late += utc(doc["stored_at"]) > due
            if doc["execution_id"] in done:
                finished.append((done[doc["execution_id"]] - due).total_seconds() * 1000)
        sizes: list[float] = sorted(pages.values())
        return {
            "fired": len(fired),
            "stored_after_due": stored_late,
            "lateness_ms": spread(fired),
            "finished_after_due_ms": spread(finished),
            "completed": len(done),
            "pages": len(sizes),
            "page_size": {"p50": percentile(sizes, 0.5), "max": sizes[-1] if sizes else 0},
        }

    async def completed(
        self, workflow_id: str, wanted: set[str], timeout: float
    ) -> dict[str, datetime]:
        """The executions of ``wanted`` that completed (within ``timeout`` s): id -> finished."""
        deadline = time.monotonic() + timeout
        while True:
            done = {
                d["_id"]: utc(d["finished_at"])
                for d in self.db.executions.find(
                    {"workflow_id": workflow_id, "status": "completed"},
                    projection={"finished_at": 1},
                )
                if d["_id"] in wanted
            }
            if len(done) >= len(wanted) or time.monotonic() > deadline:
                return done
            await asyncio.sleep(2)

    # -- schedules ----------------------------------------------------------------------------

    async def schedules(self) -> Document:
        m, minutes = self.args.schedules, self.args.minutes
        watch = ScheduledTriggers(self.tenant_id)
        await watch.start()
        try:
            ids = await self.create_schedules(m)
            ready = await self.until_metric(
                "connectflo_scheduler_active_schedules",
                m,
                datetime.now(UTC) + timedelta(seconds=60),
                "schedules read by the scheduler",
            )
            first = next_minute(datetime.now(UTC) + timedelta(seconds=2))
            planned = [first + i * MINUTE for i in range(minutes)]
            log(
                f"schedules: {len(ids)} created, {ready:.0f} active in the scheduler; measuring "
                f"the fires of {first:%H:%M}-{planned[-1]:%H:%M} UTC"
            )
            await sleep_until(first - timedelta(seconds=1))
            before = await self.meter.snapshot()
            # K whole minutes: each minute's burst and the refreshes in between
            end = first + minutes * MINUTE - timedelta(seconds=1)
            await watch.until(planned[-1], m, end)
            await sleep_until(end)
            after = await self.meter.snapshot()
        finally:
            await watch.stop()
        wanted = {f"{s}:{int(p.timestamp())}" for s in ids for p in planned}
        fires = [f for f in watch.fires if f["trigger_id"] in wanted]
        per_trigger = Counter(f["trigger_id"] for f in fires)
        executions = {execution_id_for(t, self.workflows["scheduled"]) for t in wanted}
        done = await self.completed(self.workflows["scheduled"], executions, 60)
        minutes_seen = []
        for p in planned:
            these = [f for f in fires if f["planned"] == p]
            late = [f["late_ms"] for f in these]
            minutes_seen.append(
                {
                    "planned": p.isoformat(),
                    "fires": len({f["trigger_id"] for f in these}),
                    "first_ms": min(late, default=math.nan),
                    "last_ms": max(late, default=math.nan),
                    # the runner fires one schedule after the other: the time each takes
                    "ms_per_fire": (max(late) - min(late)) / (len(late) - 1)
                    if len(late) > 1
                    else math.nan,
                }
            )
        return {
            "schedules": m,
            "minutes": minutes,
            "zones": list(ZONES),
            "expected_fires": len(wanted),
            "distinct_fires": len(per_trigger),
            "missed": len(wanted - set(per_trigger)),
            "doubled": sum(c - 1 for c in per_trigger.values()),
            "per_minute": minutes_seen,
            "lateness_ms": spread([f["late_ms"] for f in fires]),
            "seen_after_planned_ms": spread([f["seen_ms"] for f in fires]),
            "completed": len(done),
            "window": costs(before, after, len(fires)),
        }

    async def create_schedules(self, m: int) -> list[str]:
        ids: list[str] = []
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(base_url=self.stack.url("gateway"), timeout=60) as http:

            async def create(i: int) -> None:
                body = {
                    "workflow_id": self.workflows["scheduled"],
                    "cron_expression": "* * * * *",
                    "timezone": ZONES[i % len(ZONES)],
                }
                async with limit:
                    made = await http.post("/v1/schedules", json=body, headers=self.auth)
                if made.status_code != 201:
                    raise RuntimeError(f"schedule not created: {made.status_code} {made.text}")
                ids.append(made.json()["id"])

            await asyncio.gather(*(create(i) for i in range(m)))
        return ids


class ScheduledTriggers:
    """The tenant's Scheduled TriggerReceived on connectflo.triggers.v1, from the end offsets at
    the start: a plain consumer assigned to every partition."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.fires: list[Document] = []
        self.by_minute: Counter[datetime] = Counter()
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        self.task: asyncio.Task[None] | None = None
        self.target: tuple[datetime, int] | None = None
        self.reached = asyncio.Event()

    async def start(self) -> None:
        await self.consumer.start()
        count = PARTITIONS[topics.TRIGGERS]
        partitions = [TopicPartition(topics.TRIGGERS, p) for p in range(count)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)
        self.task = asyncio.create_task(self.watch())

    async def watch(self) -> None:
        async for record in self.consumer:
            seen = datetime.now(UTC)
            if dict(record.headers).get("ce_type") != b"TriggerReceived":
                continue
            trigger = json.loads(record.value)
            if trigger["tenant_id"] != self.tenant_id or trigger["trigger_type"] != "Scheduled":
                continue
            payload = trigger["payload"]
            planned = datetime.fromisoformat(payload["scheduledFor"]).astimezone(UTC)
            fired = datetime.fromisoformat(payload["firedAt"]).astimezone(UTC)
            self.by_minute[planned] += 1
            if self.target and self.by_minute[self.target[0]] >= self.target[1]:
                self.reached.set()
            self.fires.append(
                {
                    "trigger_id": trigger["trigger_id"],
                    "planned": planned,
                    "late_ms": (fired - planned).total_seconds() * 1000,
                    "seen_ms": (seen - planned).total_seconds() * 1000,
                }
            )

    async def until(self, planned: datetime, fires: int, deadline: datetime) -> None:
        """Until ``fires`` fires of ``planned`` were seen, or ``deadline``."""
        self.target = (planned, fires)
        if self.by_minute[planned] < fires:
            self.reached.clear()
            timeout = max(0.0, (deadline - datetime.now(UTC)).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.reached.wait(), timeout)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        with contextlib.suppress(asyncio.CancelledError):
            await self.consumer.stop()


async def measure(args: argparse.Namespace, stack: Stack, mongo: MongoClient[Any]) -> Document:
    """Both phases (or the one asked for); the figures."""
    bench = Bench(args, stack, mongo)
    try:
        await bench.setup()
        summary: Document = {"code": stack.code, "database": stack.database}
        if args.timers:
            summary["timers"] = await bench.timers()
        if args.schedules:
            summary["schedules"] = await bench.schedules()
        return summary
    finally:
        await bench.close()
