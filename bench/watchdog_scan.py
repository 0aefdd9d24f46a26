"""The watchdog's scan time at 100,000 stored executions (issue 15, *Performance*).

    python bench/watchdog_scan.py [--executions 100000] [--scans 5]

Stores executions in a throwaway database on the running MongoDB-wire server (`MONGO_URI`,
default FerretDB on 127.0.0.1:27017), made the way the executor makes them: the real engine
runs a greeting workflow (completed, most of them) and a Shopify lookup (waiting on the
integration, with its deadline timer), and the executor's own `stored()` writes them, with the
executor's indexes (FerretDB on PostgreSQL gets a GIN index per declared field from
deploy/local/infra/ferretdb-indexes.sql's event trigger). A few percent are not final, spread
over the past week; a handful are stuck (created with no start, waiting with no deadline timer).

Then it times the scheduler's own Watchdog (scheduler/watchdog.py) over that database, with a
clock it moves and a publish that sends nothing: the read of every non-final execution at
assignment (the first scan), and the scan every minute after (the slots that came due:
three statuses and a deadline, by equality). p50 and max over ``--scans`` of each; then the
database is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.envelope import NO_TRACE
from contracts.events import ExecutionRequested, TimerRequested
from executor.adapters.execution_documents import stored
from executor.adapters.store import ensure_indexes
from executor.runtime import engine_port
from executor.runtime.step import Limits, apply
from pymongo import AsyncMongoClient
from scheduler.adapters.store import ensure_indexes as ensure_timer_indexes
from scheduler.adapters.watchdog import WatchdogRepository, ensure_watchdog_indexes
from scheduler.domain.timers import timer_document
from scheduler.watchdog import Watchdog

Doc = dict[str, Any]
BUCKET = 60
LEASE = 300.0


def _node(node_id: str, node_type: str, label: str, **config: Any) -> Doc:
    return {"id": node_id, "type": node_type, "label": label, "config": config}


def _chain(*nodes: Doc) -> Doc:
    edges = [
        {"id": f"e{i}", "source": a["id"], "target": b["id"]}
        for i, (a, b) in enumerate(itertools.pairwise(nodes))
    ]
    return {
        "name": "bench",
        "triggerType": "Incoming Message",
        "nodes": list(nodes),
        "edges": edges,
    }


TRIGGER = _node("t", "trigger", "Incoming Message")
GREETING = _chain(
    TRIGGER,
    _node("set", "action", "Set Variable", path="workflow.topic", value="{{trigger.text}}"),
    _node(
        "reply", "action", "Send Reply", message="Hello {{customer.name}}, about {{workflow.topic}}"
    ),
)
LOOKUP = _chain(
    TRIGGER,
    _node("shop", "integration", "Shopify", action="getOrder", orderId="1", outputVariable="order"),
    _node("reply", "action", "Send Reply", message="Order {{workflow.order.name}}"),
)


def created(execution_id: str, at: datetime) -> Doc:
    return {
        "_id": execution_id,
        "tenant_id": "ten_bench",
        "workflow_id": "wf_bench",
        "workflow_version": 1,
        "trigger_id": "trg_" + execution_id,
        "trigger_type": "Incoming Message",
        "conversation_id": "conv-" + execution_id,
        "channel": "chat",
        "trigger_json": '{"payload":{"text":"where is my order 1042?"},"customer":{"name":"Ada"}}',
        "status": "created",
        "created_at": at,
        "updated_at": at,
        "started_at": None,
        "state_json": None,
        "total_nodes": 0,
        "executed_nodes": 0,
        "failed_nodes": 0,
        "version": 0,
        "outbox": [],
    }


async def started(definition: Doc, doc: Doc, at: datetime) -> Doc:
    """The document after the executor applied its start at ``at``."""
    applied = await apply(
        doc,
        engine_port.compile_workflow(definition),
        ExecutionRequested(
            command_id=f"start:{doc['_id']}", execution_id=doc["_id"], tenant_id="ten_bench"
        ),
        now=lambda: at,
        limits=Limits(),
        trace=NO_TRACE,
    )
    return applied.doc


async def population(
    total: int, now: datetime, burst_at: datetime, rng: random.Random
) -> tuple[list[Doc], list[Doc], int]:
    """``total`` stored documents, the pending deadline timers of the waiting ones (as the
    scheduler stores them) and how many are not final: 97 % completed over the past week,
    2.5 % waiting on an integration, 0.3 % created a moment ago; 200 waiting ones written in
    one minute (``burst_at``, the slot the first minute's scan reads); 20 stuck (created ten
    minutes ago, the start lost) and 10 waiting without their deadline timer."""
    templates = {
        "completed": await started(GREETING, created("tpl_c", now), now),
        "waiting": await started(LOOKUP, created("tpl_w", now), now),
    }
    docs, timers, non_final = [], [], 0
    for i in range(total + 200):
        execution_id = f"exe_{i:024x}"
        roll = rng.random()
        at = now - timedelta(seconds=rng.uniform(0, 7 * 86400))
        if i >= total:
            kind, at = "waiting", burst_at + timedelta(seconds=rng.uniform(0, 59))
        elif roll < 0.003:
            kind, at = "created", now - timedelta(seconds=rng.uniform(0, 120))
        elif roll < 0.028:
            kind = "waiting"
        else:
            kind = "completed"
        if kind == "created":
            doc = created(execution_id, at)
        else:
            doc = {**templates[kind], "_id": execution_id, "trigger_id": "trg_" + execution_id}
            doc.update(created_at=at, updated_at=at, started_at=at)
        if kind == "waiting":
            deadline = at + timedelta(days=7)
            doc.update(waiting_since=at, wait_deadline_at=deadline)
            if i % 1000 != 7:  # ten or so lost their deadline timer
                timers.append(deadline_timer(doc, deadline, now))
        non_final += kind != "completed"
        docs.append(stored(doc, BUCKET))
    for i in range(20):
        docs.append(stored(created(f"exe_stuck_{i:014x}", now - timedelta(minutes=10)), BUCKET))
        non_final += 1
    return docs, timers, non_final


def deadline_timer(doc: Doc, fire_at: datetime, now: datetime) -> Doc:
    request = TimerRequested(
        idempotency_key=f"{doc['_id']}:deadline:1",
        execution_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        effect_id="deadline:1",
        node_id="deadline",
        fire_at=fire_at,
    )
    return timer_document(request, partition=0, trace=NO_TRACE, stored_at=now)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Counted:
    """The repository, counting the documents each scan reads."""

    def __init__(self, inner: WatchdogRepository) -> None:
        self._inner = inner
        self.read = 0
        self.queries = 0

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._inner, name)

        async def counted(*args: Any) -> Any:
            self.queries += 1
            found = await method(*args)
            if isinstance(found, list):
                self.read += len(found)
            return found

        return counted


async def nothing_sent(value: bytes, topic: str, key: bytes | None, headers: Any) -> None:
    return None


async def timed_scans(
    db: Any, now: datetime, scans: int
) -> dict[str, list[tuple[float, int, int]]]:
    store = Counted(WatchdogRepository(db))
    clock = Clock(now)
    dog = Watchdog(
        store,  # type: ignore[arg-type]
        nothing_sent,
        lambda: frozenset({0}),
        lease_seconds=LEASE,
        interval_seconds=60,
        bucket_seconds=BUCKET,
        clock=clock,
    )
    await dog.scan()  # owned now: the first scan comes a lease later
    results: dict[str, list[tuple[float, int, int]]] = {"assignment": [], "minute": []}
    for _ in range(scans):
        dog._read_to = None  # as after an assignment: read by status
        clock.now += timedelta(seconds=LEASE)
        store.read = store.queries = 0
        began = time.perf_counter()
        await dog.scan()
        results["assignment"].append((time.perf_counter() - began, store.read, store.queries))
    for _ in range(scans):
        clock.now += timedelta(seconds=60)
        store.read = store.queries = 0
        began = time.perf_counter()
        await dog.scan()
        results["minute"].append((time.perf_counter() - began, store.read, store.queries))
    return results


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=5)
    args = parser.parse_args(argv)
    logging.getLogger("scheduler.watchdog").setLevel(logging.ERROR)  # one line per finding
    uri = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
    client: AsyncMongoClient[Doc] = AsyncMongoClient(uri, tz_aware=True)
    name = "bench_watchdog_" + secrets.token_hex(4)
    db = client[name]
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        await ensure_indexes(db)
        await ensure_watchdog_indexes(db)
        await ensure_timer_indexes(db)
        # the slot the first minute's scan reads (after the assignment scans, a lease each)
        burst_at = (now + (args.scans - 1) * timedelta(seconds=LEASE)).replace(second=0)
        docs, timers, non_final = await population(
            args.executions, now, burst_at, random.Random(15)
        )
        began = time.perf_counter()
        for start in range(0, len(docs), 1000):
            await db.executions.insert_many(docs[start : start + 1000], ordered=False)
        for start in range(0, len(timers), 1000):
            await db.timers.insert_many(timers[start : start + 1000], ordered=False)
        stored_in = time.perf_counter() - began
        print(
            f"stored {len(docs):,} executions ({non_final:,} not final) and {len(timers):,} "
            f"timers in {stored_in:.1f}s into {name} at {uri}"
        )
        results = await timed_scans(db, now, args.scans)
        for phase, runs in results.items():
            seconds = [r[0] * 1000 for r in runs]
            p50, worst = statistics.median(seconds), max(seconds)
            print(
                f"{phase:>10} scan: p50 {p50:8.1f} ms  max {worst:8.1f} ms  ({len(runs)} scans;"
                f" queries and documents read: {[(r[2], r[1]) for r in runs]})"
            )
        findings = await db.watchdog_findings.count_documents({})
        print(f"findings recorded: {findings}")
    finally:
        await client.drop_database(name)
        await client.close()
        print(f"dropped {name}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
