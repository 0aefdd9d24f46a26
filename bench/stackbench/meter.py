"""What a phase costs, read before and after it: end offsets of every connectflo.* topic,
MongoDB commands at the server (FerretDB's serverStatus) and per service (bench/service_hook.py's
counter on /metrics), and CPU ticks per process."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import MongoClient

from .cpu import cpu_reader, postgres_ticks
from .machine import postmaster_pid, read_pid
from .services import Stack
from .settings import CLK_TCK, PARTITIONS, REPO

# serverStatus counts these too; they are connection monitoring, not work.
MONITORING = {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo", "serverStatus"}


@dataclass
class Snapshot:
    at: float
    offsets: dict[str, int]
    mongo: dict[str, int]
    mongo_by_service: dict[str, dict[str, float]]
    cpu: dict[str, int | None]


class Meter:
    def __init__(self, stack: Stack, mongo: MongoClient[Any]) -> None:
        self.stack = stack
        self.mongo = mongo
        self.consumer: AIOKafkaConsumer | None = None
        # process name -> a reader of its CPU ticks (None: not running)
        self.cpu_readers: dict[str, Callable[[], int | None]] = {}
        self.background: dict[str, float] = {}  # MongoDB commands per second while idle
        self.idle_cpu: dict[str, float] = {}

    def start(self, consumer: AIOKafkaConsumer) -> None:
        """Reads end offsets through ``consumer``; CPU of the servers, services and this one."""
        self.consumer = consumer
        postmaster = postmaster_pid()  # FerretDB on PostgreSQL: the server and its backends
        readers: dict[str, Callable[[], int | None] | None] = {
            "kafka (java)": cpu_reader(read_pid(REPO / ".run/kafka/kafka.pid")),
            "ferretdb": cpu_reader(read_pid(REPO / ".run/mongo/ferretdb.pid")),
            "postgresql (FerretDB's storage)": (
                None if postmaster is None else functools.partial(postgres_ticks, postmaster)
            ),
            **{name: cpu_reader(p.pid) for name, p in self.stack.processes.items()},
            "bench (load + observer)": cpu_reader(os.getpid()),
        }
        self.cpu_readers = {name: read for name, read in readers.items() if read is not None}

    async def snapshot(self) -> Snapshot:
        assert self.consumer is not None
        partitions = [TopicPartition(t, p) for t, n in PARTITIONS.items() for p in range(n)]
        ends = await self.consumer.end_offsets(partitions)
        offsets: dict[str, int] = {}
        for tp, end in ends.items():
            offsets[tp.topic] = offsets.get(tp.topic, 0) + end
        status = await asyncio.to_thread(self.mongo.admin.command, "serverStatus")
        mongo = {
            name: int(counts.get("total", 0))
            for name, counts in status.get("metrics", {}).get("commands", {}).items()
            if name not in MONITORING
        }
        by_service: dict[str, dict[str, float]] = {}
        if self.stack.hook:
            # long: an overloaded service answers late (its event loop is the one that is busy)
            async with httpx.AsyncClient(timeout=60, follow_redirects=True) as http:
                for name in self.stack.instances:
                    by_service[name] = parse_counter(
                        (await http.get(f"{self.stack.url(name)}/metrics")).text
                    )
        return Snapshot(
            time.perf_counter(),
            offsets,
            mongo,
            by_service,
            {name: read() for name, read in self.cpu_readers.items()},
        )

    async def calibrate(self, seconds: float) -> None:
        """MongoDB commands per second while nothing is sent (scheduler polls, other clients)."""
        first = await self.snapshot()
        await asyncio.sleep(seconds)
        second = await self.snapshot()
        span = second.at - first.at
        self.background = {
            name: (second.mongo.get(name, 0) - first.mongo.get(name, 0)) / span
            for name in second.mongo
        }
        self.idle_cpu = {
            name: (second.cpu[name] - first.cpu[name]) / CLK_TCK / span * 100  # type: ignore[operator]
            for name in second.cpu
            if second.cpu[name] is not None and first.cpu[name] is not None
        }

    # -- load


SECONDS = " seconds"  # the key of a command's total time


def parse_counter(text: str) -> dict[str, float]:
    """connectflo_bench_mongo_commands_total{command="x",collection="y"} N -> {"x y": N}, and
    connectflo_bench_mongo_seconds_total -> {"x y seconds": S}."""
    counts = {}
    for line in text.splitlines():
        for metric, suffix in (("commands", ""), ("seconds", SECONDS)):
            if line.startswith(f"connectflo_bench_mongo_{metric}_total{{"):
                labels, value = line.rsplit(" ", 1)
                parts = dict(re.findall(r'(\w+)="([^"]*)"', labels))
                key = f"{parts.get('command')} {parts.get('collection')}".strip()
                counts[key + suffix] = float(value)
    return counts
