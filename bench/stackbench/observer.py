"""Completions as the bench sees them: ExecutionCompleted / ExecutionFailed on
connectflo.executions.v1, read by a plain consumer assigned to every partition."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from .settings import EXECUTIONS_TOPIC, KAFKA, PARTITIONS


class Completions:
    def __init__(self) -> None:
        # execution id -> (perf_counter when seen, event type)
        self.completed: dict[str, tuple[float, str]] = {}
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """From the end of the topic: only this run's executions."""
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        await self.consumer.start()
        partitions = [
            TopicPartition(EXECUTIONS_TOPIC, p) for p in range(PARTITIONS[EXECUTIONS_TOPIC])
        ]
        if not partitions:
            raise RuntimeError(f"topic {EXECUTIONS_TOPIC} not found")
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)
        self.watcher = asyncio.create_task(self.watch())

    async def watch(self) -> None:
        assert self.consumer is not None
        async for record in self.consumer:
            kind = None
            for key, value in record.headers:
                if key == "ce_type":
                    kind = value
                    break
            if kind not in (b"ExecutionCompleted", b"ExecutionFailed"):
                continue
            now = time.perf_counter()
            execution_id = json.loads(record.value)["execution_id"]
            self.completed.setdefault(execution_id, (now, kind.decode()))
            waiter = self.waiters.pop(execution_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def wait(self, execution_id: str | None, timeout: float) -> bool:
        """True once the execution completed (or failed), False after ``timeout`` s."""
        if execution_id is None:
            return False
        if execution_id in self.completed:
            return True
        waiter = self.waiters.setdefault(execution_id, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        if self.consumer is not None:
            # aiokafka's fetcher, cancelled in its retry back-off (the broker was slow after a
            # long phase), raises CancelledError from stop(): the results must still be written
            with contextlib.suppress(asyncio.CancelledError):
                await self.consumer.stop()
