"""MongoDB and Kafka for the watchdog (scheduler/watchdog.py): it reads executions (the
executor writes them) and timers, and writes only its own `watchdog_findings`.

Every read is an equality, the only filter FerretDB 1.x applies in its storage (a GIN index
per declared field: deploy/local/infra/ferretdb-indexes.sql): one slot of `watch` or
`watch_deadline` (the executor's indexes), a status at assignment, a timer by `_id`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from contracts.watchdog import FINDINGS
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from scheduler.adapters.store import _ensure_index
from scheduler.domain.watchdog import GroupState

Document = dict[str, Any]
# what assess() reads of an execution: never its state, variables or outbox
PROJECTION = {
    "_id": 1,
    "tenant_id": 1,
    "workflow_id": 1,
    "status": 1,
    "version": 1,
    "created_at": 1,
    "updated_at": 1,
    "wait_deadline_at": 1,
    "deadline_effect": 1,
    "watchdog": 1,
}


async def ensure_watchdog_indexes(db: AsyncDatabase[Document]) -> None:
    findings = db[FINDINGS]
    await _ensure_index(findings, [("tenant_id", ASCENDING), ("found_at", DESCENDING)], "tenant")
    await _ensure_index(findings, [("execution_id", ASCENDING)], "execution")


class WatchdogRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._executions = db.executions
        self._timers = db.timers
        self._findings = db[FINDINGS]

    async def watched(self, key: str) -> list[Document]:
        """The non-final executions of one slot (``watch`` = ``<status>:<slot>``)."""
        return await self._find({"watch": key})

    async def deadline_in(self, slot: int) -> list[Document]:
        """The waiting executions whose waiting time limit falls in ``slot``."""
        return await self._find({"watch_deadline": slot})

    async def with_status(self, status: str) -> list[Document]:
        """Every execution in ``status`` (once per assignment: those written before the
        slots existed have none)."""
        return await self._find({"status": status})

    async def execution(self, execution_id: str) -> Document | None:
        return await self._executions.find_one({"_id": execution_id}, projection=PROJECTION)

    async def timer_pending(self, timer_id: str) -> bool:
        found = await self._timers.find_one({"_id": timer_id}, projection={"status": 1})
        return found is not None and found.get("status") == "pending"

    async def pending_timer_ids(self, partition: int) -> set[str]:
        """The ids of a partition's pending timers (the read the timers do at assignment)."""
        cursor = self._timers.find(
            {"partition": partition, "status": "pending"}, projection={"_id": 1}
        )
        return {d["_id"] async for d in cursor}

    async def record(self, finding: Document) -> bool:
        """False when this finding (execution, version, action) is recorded already."""
        try:
            await self._findings.insert_one(finding)
        except DuplicateKeyError:
            return False
        return True

    async def _find(self, query: Document) -> list[Document]:
        return [d async for d in self._executions.find(query, projection=PROJECTION)]


class ConsumerGroups:
    """Members and lag of consumer groups: a describe and an offsets fetch a group, one end
    offsets request for them all."""

    def __init__(self, bootstrap_servers: str, groups: list[str]) -> None:
        self._bootstrap = bootstrap_servers
        self._groups = groups
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def states(self) -> list[GroupState]:
        admin, consumer = await self._clients()
        # one group a request: aiokafka 0.14 misreads Kafka 4.1's answer about several
        described = await asyncio.gather(
            *(admin.describe_consumer_groups([g]) for g in self._groups)
        )
        members = {
            g["group"]: len(g["members"])
            for responses in described
            for response in responses
            for g in response.to_object()["groups"]
        }
        committed = await asyncio.gather(
            *(admin.list_consumer_group_offsets(g) for g in self._groups)
        )
        partitions = sorted({tp for offsets in committed for tp in offsets}, key=str)
        ends: dict[TopicPartition, int] = (
            await consumer.end_offsets(partitions) if partitions else {}
        )
        return [
            GroupState(
                group=group,
                members=members.get(group, 0),
                lag=sum(max(0, ends.get(tp, 0) - o.offset) for tp, o in offsets.items()),
            )
            for group, offsets in zip(self._groups, committed, strict=True)
        ]

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
            await self._admin.start()
            self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap)
            await self._consumer.start()
        return self._admin, self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()
