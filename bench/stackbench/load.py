"""The load generators: one at a time (idle), open loop (a fixed schedule, whatever happens to
the earlier triggers) and closed loop (N clients, each waits for its completion)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import time

from .observer import Completions
from .phases import Phase, Sample
from .progress import log
from .rawhttp import RawHttp
from .workload import execution_id_for


class Load:
    def __init__(
        self, args: argparse.Namespace, http: RawHttp, workflow_id: str, completions: Completions
    ) -> None:
        self.args = args
        self.http = http
        self.workflow_id = workflow_id
        self.completions = completions
        self.completed = completions.completed
        self.seq = 0
        self.run_id = secrets.token_hex(3)

    def body(self) -> bytes:
        self.seq += 1
        conversation = (
            {"conversation_id": f"bench-{self.run_id}-{self.seq}"}
            if self.args.conversation_per_trigger
            else {}
        )
        return json.dumps(
            {
                **conversation,
                "channel": "chat",
                "payload": {"text": f"where is my order {self.seq}?"},
                "customer": {"id": f"cust-{self.seq}", "name": "Bench"},
            }
        ).encode()

    async def fire(self, sample: Sample) -> None:
        sample.sent = time.perf_counter()
        try:
            status, payload = await self.http.post("/v1/events/incoming_message", self.body())
        except (OSError, asyncio.IncompleteReadError):
            status, payload = 599, b""
        sample.answered = time.perf_counter()
        sample.status = status
        if status == 202:
            sample.execution_id = execution_id_for(
                json.loads(payload)["trigger_id"], self.workflow_id
            )

    async def one_at_a_time(self, phase: Phase) -> None:
        for _ in range(int(phase.duration)):
            sample = Sample(time.perf_counter())
            phase.samples.append(sample)
            await self.fire(sample)
            await self.completions.wait(sample.execution_id, self.args.timeout)

    async def monitor(self, phase: Phase, stop: asyncio.Event) -> None:
        """Triggers sent but not completed, once a second."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            waiting = sum(
                1 for s in phase.samples if s.execution_id and s.execution_id not in self.completed
            )
            phase.in_flight.append(waiting)

    async def open_loop(self, phase: Phase) -> None:
        assert phase.rate
        count = int(phase.rate * phase.duration)
        start = time.perf_counter() + 0.05
        # Far behind: stop (the backlog would only spill into the next phases).
        cap = max(100.0, phase.rate * self.args.overload)
        tasks = []
        for i in range(count):
            scheduled = start + i / phase.rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                phase.max_lag = max(phase.max_lag, -delay)
            sample = Sample(scheduled)
            phase.samples.append(sample)
            tasks.append(asyncio.create_task(self.fire(sample)))
            if i % 25 == 0 and phase.in_flight and phase.in_flight[-1] > cap:
                phase.cut_off = time.perf_counter() - start
                log(
                    f"{phase.name}: {phase.in_flight[-1]} triggers in flight after "
                    f"{phase.cut_off:.1f} s: overloaded, sending stops"
                )
                break
        await asyncio.gather(*tasks)

    async def closed_loop(self, phase: Phase) -> None:
        assert phase.clients
        end = time.perf_counter() + phase.duration

        async def client() -> None:
            while time.perf_counter() < end:
                sample = Sample(time.perf_counter())
                phase.samples.append(sample)
                await self.fire(sample)
                if not await self.completions.wait(sample.execution_id, self.args.timeout):
                    return

        await asyncio.gather(*(client() for _ in range(phase.clients)))
