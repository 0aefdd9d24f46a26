"""`make bench-fairness`: one tenant's flood of Shopify calls must not delay another tenant's.

The integrations service and the provider sandbox run as processes (ports 29083, 29090) on the
real Kafka and FerretDB (`deploy/local/infra.sh start` first) with a fresh database and
consumer group. Two tenants each have a Shopify connection to a sandbox store on Shopify's
Standard plan (100 points a second restored, a 2000-point bucket). Integration requests go
straight onto `connectflo.integrations.requests.v1`, as the executor would send them, and the
latency of each is the time to its EffectSettled on `connectflo.executions.commands.v1`.

1. idle: tenant B makes getOrder calls at 5/s (A sends nothing): B's p50 / p99.
2. burst: tenant A sends 10,000 getOrder calls at once; B's calls of the next 3 s wait behind
   them in the topic's partitions while the service reads them (a transient: printed apart).
3. backlog: A's calls wait in the service for their store's rate; B makes calls at 5/s as in
   phase 1: B's p50 / p99 and their ratio to phase 1 (the target: p99 below 2x).
Also printed: A's calls settled (its store's rate bounds them) and the service's CPU per
settled call, alone and beside the backlog. Results in `.run/bench/fairness.json`.

    .venv/bin/python bench/fairness.py [--flood 10000] [--rate 5] [--seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from contracts import Envelope, topics
from contracts.connections import credentials_purpose
from contracts.events import EffectSettled, IntegrationRequested
from pymongo import MongoClient
from servicekit.processes import start_service, stop_services
from servicekit.sealing import KEK_FILE_VARIABLE, KEKS_VARIABLE, Keyring, dev_key_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stackbench.cpu import cpu_ticks

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run" / "bench"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
INTEGRATIONS_PORT, SANDBOX_PORT = 29083, 29090
GROUP = "connectflo-integrations-fairness"
TICKS = os.sysconf("SC_CLK_TCK")
BURST_SECONDS = 3.0
QUIET_SECONDS = 5.0


def log(module: str) -> Path:
    return RUN / f"fairness-{module}.log"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Bench:
    def __init__(self, env: dict[str, str], db: Any) -> None:
        self.env = env
        self.db = db
        self.sent: dict[str, tuple[str, float]] = {}  # key -> (tenant, sent at)
        self.settled: dict[str, tuple[str, float, bool]] = {}  # key -> (tenant, latency, ok)
        self.producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=5)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        self.orders: dict[str, int] = {}

    async def connect(self, tenant: str, sandbox: httpx.AsyncClient) -> None:
        store = (
            await sandbox.post(
                "/sandbox/shopify/stores",
                json={"domain": f"{tenant.replace('_', '-')}.myshopify.com"},
            )
        ).json()
        self.orders[tenant] = store["orders"][0]
        keyring = Keyring.from_environment(self.env)
        assert keyring is not None
        connection_id = "con_" + secrets.token_hex(8)
        sealed = keyring.seal(
            json.dumps({"access_token": store["access_token"]}),
            tenant_id=tenant,
            purpose=credentials_purpose(connection_id),
        )
        now = datetime.now(UTC)
        self.db.connections.insert_one(
            {
                "_id": connection_id,
                "tenant_id": tenant,
                "type": "shopify",
                "name": "Shop",
                "mode": "provider",
                "config": {"shop": store["domain"], "base_url": f"http://127.0.0.1:{SANDBOX_PORT}"},
                "credentials": sealed.to_document(),
                "credential_fields": ["access_token"],
                "is_default": True,
                "is_active": True,
                "status": "connected",
                "created_at": now,
                "updated_at": now,
            }
        )

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        partitions = [
            TopicPartition(topics.EXECUTION_COMMANDS, p)
            for p in self.consumer.partitions_for_topic(topics.EXECUTION_COMMANDS) or ()
        ]
        if not partitions:
            partitions = [
                TopicPartition(topics.EXECUTION_COMMANDS, p)
                for p in await self.producer.partitions_for(topics.EXECUTION_COMMANDS)
            ]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)
        self.watcher = asyncio.create_task(self.watch())

    async def watch(self) -> None:
        async for message in self.consumer:
            try:
                envelope = Envelope.parse(message.headers, message.value or b"")
            except Exception:
                continue
            data = envelope.data
            if not isinstance(data, EffectSettled):
                continue
            sent = self.sent.get(data.idempotency_key)
            if sent is not None and data.idempotency_key not in self.settled:
                self.settled[data.idempotency_key] = (
                    sent[0],
                    time.monotonic() - sent[1],
                    data.error is None,
                )

    async def send(self, tenant: str) -> None:
        key = f"fair:{secrets.token_hex(8)}"
        execution = "exe_" + secrets.token_hex(8)
        event = IntegrationRequested(
            idempotency_key=key,
            execution_id=execution,
            tenant_id=tenant,
            effect_id="shop:1:1",
            node_id="shop",
            kind="integration.shopify",
            request={
                "integration": "shopify",
                "action": "getOrder",
                "params": {"orderId": str(self.orders[tenant])},
                "outputVariable": "order",
            },
        )
        envelope = Envelope.wrap(event, source="/bench/fairness", tenant_id=tenant)
        headers = [(k, v.encode()) for k, v in envelope.headers().items()]
        self.sent[key] = (tenant, time.monotonic())
        await self.producer.send(
            topics.INTEGRATION_REQUESTS, envelope.body(), key=execution.encode(), headers=headers
        )

    async def paced(self, tenant: str, rate: float, seconds: float) -> list[str]:
        keys: list[str] = []
        begin = time.monotonic()
        n = 0
        while time.monotonic() - begin < seconds:
            await self.send(tenant)
            keys.append(next(reversed(self.sent)))
            n += 1
            await asyncio.sleep(max(0.0, begin + n / rate - time.monotonic()))
        return keys

    async def drained(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while any(k not in self.settled for k in keys) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)

    def latencies(self, keys: list[str]) -> dict[str, Any]:
        seen = [self.settled[k] for k in keys if k in self.settled]
        ms = [latency * 1000 for _, latency, _ in seen]
        return {
            "calls": len(keys),
            "settled": len(seen),
            "failed": sum(1 for *_, ok in seen if not ok),
            "p50_ms": round(statistics.median(ms), 1) if ms else None,
            "p99_ms": round(percentile(ms, 0.99), 1) if ms else None,
            "max_ms": round(max(ms), 1) if ms else None,
            "first_ms": [round(m) for m in ms[:8]],  # in sending order: when the slow ones came
        }

    async def stop(self) -> None:
        self.watcher.cancel()
        await self.producer.stop()
        await self.consumer.stop()


async def run(args: argparse.Namespace, env: dict[str, str], db: Any, pid: int) -> dict[str, Any]:
    bench = Bench(env, db)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{SANDBOX_PORT}") as sandbox:
        for tenant in ("ten_a", "ten_b"):
            await bench.connect(tenant, sandbox)
    await bench.start()
    try:
        warm = await bench.paced("ten_b", args.rate, 2)  # connections resolved, sessions open
        await bench.drained(warm, 30)
        quiet = cpu_ticks(pid) or 0
        await asyncio.sleep(QUIET_SECONDS)  # the service's own pace with nothing to do
        quiet_per_s = ((cpu_ticks(pid) or 0) - quiet) / TICKS / QUIET_SECONDS
        print(f"fairness: phase 1, B alone at {args.rate}/s for {args.seconds:g}s", flush=True)
        cpu_before = cpu_ticks(pid) or 0
        idle_keys = await bench.paced("ten_b", args.rate, args.seconds)
        await bench.drained(idle_keys, 30)
        idle_cpu = ((cpu_ticks(pid) or 0) - cpu_before) / TICKS
        idle = bench.latencies(idle_keys)
        print(f"fairness: phase 2, A queues {args.flood} calls, B at {args.rate}/s", flush=True)
        flood_began = time.monotonic()
        for _ in range(args.flood):
            await bench.send("ten_a")
        await bench.producer.flush()
        flood_keys = [k for k, (t, at) in bench.sent.items() if t == "ten_a" and at >= flood_began]
        # while the service reads A's burst (B's calls are behind it in the partitions)
        burst_keys = await bench.paced("ten_b", args.rate, BURST_SECONDS)
        print(f"fairness: phase 3, A's backlog waiting, B at {args.rate}/s for {args.seconds:g}s",
              flush=True)  # fmt: skip
        cpu_before, settled_before = cpu_ticks(pid) or 0, len(bench.settled)
        began = time.monotonic()
        busy_keys = await bench.paced("ten_b", args.rate, args.seconds)
        await bench.drained(busy_keys, 60)
        elapsed = time.monotonic() - began
        cpu = ((cpu_ticks(pid) or 0) - cpu_before) / TICKS
        settled = len(bench.settled) - settled_before
        await bench.drained(burst_keys, 60)
        burst, busy = bench.latencies(burst_keys), bench.latencies(busy_keys)
        a_done = sum(1 for k in flood_keys if k in bench.settled)
        a_rate = (len(bench.settled) - settled_before - len(busy_keys)) / elapsed
    finally:
        await bench.stop()
    return {
        "flood": args.flood,
        "rate": args.rate,
        "seconds": args.seconds,
        "b_idle": idle,
        "b_during_burst": burst,
        "b_during_flood": busy,
        "p99_ratio": round(busy["p99_ms"] / idle["p99_ms"], 2)
        if busy["p99_ms"] and idle["p99_ms"]
        else None,
        "a_settled": a_done,
        "a_rate_per_s": round(a_rate, 1),
        "cpu_ms_per_s_quiet": round(quiet_per_s * 1000, 1),
        "cpu_ms_per_call_idle": round(idle_cpu * 1000 / len(idle_keys), 2),
        "cpu_seconds": round(cpu, 2),
        "calls_settled": settled,
        "cpu_ms_per_call": round(cpu * 1000 / settled, 2) if settled else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flood", type=int, default=10_000, help="tenant A's calls (10000)")
    parser.add_argument("--rate", type=float, default=5.0, help="tenant B's calls a second (5)")
    parser.add_argument("--seconds", type=float, default=40.0, help="each phase of B's (40)")
    args = parser.parse_args()
    RUN.mkdir(parents=True, exist_ok=True)
    database = "fairness_" + secrets.token_hex(4)
    env = {
        **os.environ,
        "MONGO_URI": MONGO,
        "MONGO_DATABASE": database,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "INTEGRATIONS_PORT": str(INTEGRATIONS_PORT),
        "INTEGRATIONS_GROUP_ID": GROUP,
        "SANDBOX_PORT": str(SANDBOX_PORT),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    if not (env.get(KEKS_VARIABLE) or env.get(KEK_FILE_VARIABLE)):
        env[KEK_FILE_VARIABLE] = str(dev_key_file(REPO / ".run" / "dev-keks"))
    topics_script = [
        sys.executable,
        str(REPO / "deploy/local/kafka_topics.py"),
        "--skip-to-end",
        GROUP,
    ]
    subprocess.run(topics_script, check=True, env=env)
    mongo: MongoClient[Any] = MongoClient(MONGO, tz_aware=True)
    processes = []
    try:
        processes.append(
            start_service("provider_sandbox", env, SANDBOX_PORT, log("provider_sandbox"), cwd=REPO)
        )
        integrations = start_service(
            "integrations", env, INTEGRATIONS_PORT, log("integrations"), cwd=REPO
        )
        processes.append(integrations)
        results = asyncio.run(run(args, env, mongo[database], integrations.pid))
    finally:
        stop_services(processes)
        mongo.drop_database(database)
    idle, burst, busy = results["b_idle"], results["b_during_burst"], results["b_during_flood"]

    def line(name: str, b: dict[str, Any]) -> None:
        print(f"{name:<28} p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms, max {b['max_ms']} ms "
              f"({b['settled']} of {b['calls']} calls, {b['failed']} failed)")  # fmt: skip

    line("B alone", idle)
    line(f"B as A's burst is read ({BURST_SECONDS:g}s)", burst)
    line("B beside A's backlog", busy)
    print(f"B p99 beside the backlog / alone: {results['p99_ratio']}x (target < 2x)")
    print(f"A settled {results['a_settled']} of {results['flood']}, "
          f"{results['a_rate_per_s']}/s beside B (its store's rate)")  # fmt: skip
    print(f"CPU per call (integrations): {results['cpu_ms_per_call_idle']} ms alone, "
          f"{results['cpu_ms_per_call']} ms beside the backlog; with nothing to do it spends "
          f"{results['cpu_ms_per_s_quiet']} ms a second")  # fmt: skip
    (RUN / "fairness.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
