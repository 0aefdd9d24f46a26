"""One run: the tenant and workflow, the warm-up, then each phase measured on its own."""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import time
from typing import Any

import httpx
from pymongo import MongoClient

from .conversations import measure_conversations
from .load import Load
from .machine import service_processes
from .meter import Meter
from .observer import Completions
from .phases import Phase, open_phases, plan
from .progress import log
from .rawhttp import RawHttp
from .report import report
from .results import headline, keeps_up, summarise
from .services import Stack
from .settings import ADMIN_TOKEN, MONGO, PORT_BASE, RUN
from .workload import WORKFLOW


class Bench:
    def __init__(self, args: argparse.Namespace, stack: Stack, mongo: MongoClient[Any]) -> None:
        self.args = args
        self.stack = stack
        self.mongo = mongo
        self.completions = Completions()
        self.completed = self.completions.completed
        self.meter = Meter(stack, mongo)
        self.load: Load | None = None
        self.http: RawHttp | None = None

    async def setup(self) -> None:
        async with httpx.AsyncClient(base_url=self.stack.url("gateway"), timeout=30) as http:
            created = await http.post(
                "/v1/tenants", json={"name": "Bench"}, headers={"X-Admin-Token": ADMIN_TOKEN}
            )
            created.raise_for_status()
            key = created.json()["api_key"]
            auth = {"Authorization": f"Bearer {key}"}
            saved = await http.post("/v1/workflows", json=WORKFLOW, headers=auth)
            if saved.status_code != 201:
                raise RuntimeError(f"workflow not saved: {saved.status_code} {saved.text}")
            workflow_id = saved.json()["id"]
            active = await http.post(f"/v1/workflows/{workflow_id}/activate", headers=auth)
            active.raise_for_status()
        self.http = RawHttp("127.0.0.1", PORT_BASE, auth)
        await self.completions.start()
        assert self.completions.consumer is not None
        self.meter.start(self.completions.consumer)
        self.load = Load(self.args, self.http, workflow_id, self.completions)

    async def close(self) -> None:
        await self.completions.stop()
        if self.http is not None:
            self.http.close()

    async def drain(self, phase: Phase) -> None:
        """Wait until every trigger of the phase completed, or --timeout after the last send."""
        deadline = phase.ended_sending + self.args.timeout
        while time.perf_counter() < deadline:
            if all(s.execution_id in self.completed for s in phase.samples if s.status == 202):
                return
            await asyncio.sleep(0.02)

    async def settle(self, phases: list[Phase]) -> None:
        """Before the next phase: the backlog of earlier ones worked off (up to --settle s), so
        a phase measures its own load only."""
        pending = [
            s.execution_id
            for p in phases
            for s in p.samples
            if s.execution_id and s.execution_id not in self.completed
        ]
        if not pending:
            return
        log(
            f"waiting for {len(pending)} earlier triggers to complete "
            f"(up to {self.args.settle:g} s)"
        )
        deadline = time.perf_counter() + self.args.settle
        while time.perf_counter() < deadline:
            pending = [e for e in pending if e not in self.completed]
            if not pending:
                return
            await asyncio.sleep(0.1)
        log(
            f"WARNING: {len(pending)} earlier triggers still not completed; the next phase "
            "starts with that backlog"
        )

    def other_stacks(self) -> list[str]:
        return service_processes({p.pid for p in self.stack.processes.values()})

    async def run_phase(self, phase: Phase) -> Phase:
        assert self.load is not None
        # Latency runs from the scheduled send time, so this process's own pauses count as the
        # system's: what earlier phases left (samples, observed messages) is frozen out of
        # the collector's walks (a full collection over it stalled sending by up to 159 ms).
        gc.collect()
        gc.freeze()
        others = self.other_stacks()
        phase.before = await self.meter.snapshot()
        stop = asyncio.Event()
        monitor = asyncio.create_task(self.load.monitor(phase, stop))
        phase.started = time.perf_counter()
        if phase.kind == "idle":
            await self.load.one_at_a_time(phase)
        elif phase.kind in ("open", "sustain"):
            await self.load.open_loop(phase)
        else:
            await self.load.closed_loop(phase)
        phase.ended_sending = time.perf_counter()
        stop.set()
        await monitor
        await self.drain(phase)
        await asyncio.sleep(0.3)  # the last NodesStepped/ReplySent land after the completion
        phase.after = await self.meter.snapshot()
        phase.result = summarise(phase, self.completed, self.meter.background, self.args.timeout)
        others = sorted(set(others + self.other_stacks()))
        phase.result["other_stacks"] = others
        if others:
            log(f"WARNING: {phase.name} ran beside another stack: {', '.join(others)}")
        if phase.max_lag > 0.02:
            log(
                f"{phase.name}: the load generator sent up to {phase.max_lag * 1000:.0f} ms "
                "late (counted in the latency: it runs from the scheduled send time)"
            )
        log(headline(phase))
        return phase


async def measure(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    mongo: MongoClient[Any] = MongoClient(MONGO, serverSelectionTimeoutMS=10000)
    bench = Bench(args, stack, mongo)
    try:
        await bench.setup()
        # Warm up (workflow cache, connections, JIT of Kafka's request path), and check that
        # the deterministic execution id is the one the history API lists.
        warm = Phase("warm-up", "open", rate=20, duration=max(1.0, args.warmup / 20))
        assert bench.load is not None
        await bench.load.open_loop(warm)
        warm.ended_sending = time.perf_counter()
        await bench.drain(warm)
        first = warm.samples[0]
        if first.execution_id not in bench.completed:
            raise RuntimeError(
                "warm-up triggers did not complete: is the execution id still "
                "exe_ + sha256(trigger_id|workflow_id)[:24]? see services/executor/src/executor/"
                f"runtime/triggers.py; logs in {RUN}"
            )
        await bench.meter.calibrate(args.calibrate)
        if args.only_conversations:
            return {
                "conversations": await measure_conversations(
                    stack, bench.meter, args.conversations, args.waiting, args.conversation_rate
                )
            }
        phases: list[Phase] = []
        for phase in plan(args):
            await bench.settle(phases)
            phases.append(await bench.run_phase(phase))
        if args.sustain:
            closed = [p for p in phases if p.kind == "closed"]
            if closed:
                best = max(p.result["throughput_per_s"] for p in closed)
                rate = max(10.0, math.floor(best / 5) * 5)
                for _attempt in range(2):
                    await bench.settle(phases)
                    phase = await bench.run_phase(
                        Phase(f"sustain {rate:g}/s", "sustain", rate=rate, duration=args.duration)
                    )
                    phases.append(phase)
                    if keeps_up(phase.result):
                        break
                    rate = max(10.0, math.floor(rate * 0.85 / 5) * 5)
        for phase in open_phases(args):
            await bench.settle(phases)
            phases.append(await bench.run_phase(phase))
        summary = report(phases, bench, args)
        if args.conversations:
            summary["conversations"] = await measure_conversations(
                stack, bench.meter, args.conversations, args.waiting, args.conversation_rate
            )
        db = mongo[stack.database]
        summary["executions_not_completed_in_db"] = db.executions.count_documents(
            {"status": {"$ne": "completed"}}
        )
        summary["executions_in_db"] = db.executions.count_documents({})
        print(
            f"\nexecutions in the database: {summary['executions_in_db']}, "
            f"not completed: {summary['executions_not_completed_in_db']}"
        )
        return summary
    finally:
        await bench.close()
        mongo.close()
