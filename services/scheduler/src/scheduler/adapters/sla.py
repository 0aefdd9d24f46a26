"""MongoDB for the SLA keeper (docs/architecture.md, *SLA clocks*): `sla_clocks`, its own (one
per conversation it keeps: the partition of the triggers topic the conversation's messages are
on, whether it still has a crossing to announce, when to look next, the crossings announced),
and what it reads: the tenants' policies (`sla_policies`, the gateway's), conversations and
their messages.

Every query is an equality (FerretDB pushes no range or sort down): a partition's active
clocks by {partition, active}, a conversation by `_id`, its messages by {tenant, conversation},
policies by tenant or by is_active. Writes are by `_id`; one keeper owns a partition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.sla import SLA_CLOCKS, SLA_POLICIES, SlaPolicySpec
from pydantic import ValidationError
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from scheduler.adapters.store import _ensure_index

Document = dict[str, Any]
MESSAGES_READ = 2000  # the newest messages of a conversation its clocks are reckoned from
ANNOUNCED_KEPT = 200  # crossings remembered per conversation (the newest)


async def ensure_sla_indexes(db: AsyncDatabase[Document]) -> None:
    await _ensure_index(db[SLA_CLOCKS], [("partition", 1), ("active", 1)], "partition_active")


class SlaRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._clocks = db[SLA_CLOCKS]

    async def tenants_with_policies(self) -> set[str]:
        docs = self._db[SLA_POLICIES].find({"is_active": True}, projection={"tenant_id": 1})
        return {d["tenant_id"] async for d in docs}

    async def policies(self, tenant_id: str) -> list[tuple[str, SlaPolicySpec, datetime | None]]:
        """The tenant's policies that parse (the gateway validated them), with when each was
        made: a clock that started before its policy existed is not announced."""
        found = []
        async for doc in self._db[SLA_POLICIES].find({"tenant_id": tenant_id}):
            fields = {k: v for k, v in doc.items() if k in SlaPolicySpec.model_fields}
            try:
                found.append(
                    (doc["_id"], SlaPolicySpec.model_validate(fields), doc.get("created_at"))
                )
            except ValidationError:
                continue
        return found

    async def conversation(self, ref: str) -> Document | None:
        return await self._db.conversations.find_one({"_id": ref})

    async def messages(self, tenant_id: str, conversation_id: str) -> list[Document]:
        cursor = self._db.messages.find(
            {"tenant_id": tenant_id, "conversation_id": conversation_id},
            projection={"direction": 1, "created_at": 1, "status": 1, "node_id": 1},
        )
        docs = [d async for d in cursor]
        docs.sort(key=lambda d: d.get("created_at") or datetime.min)
        return docs[-MESSAGES_READ:]

    async def active(self, partition: int) -> list[Document]:
        return [d async for d in self._clocks.find({"partition": partition, "active": True})]

    async def seen(
        self,
        ref: str,
        *,
        tenant_id: str,
        conversation_id: str,
        partition: int,
        at: datetime,
        check_at: datetime,
    ) -> Document:
        """A customer's message: the conversation is kept (again), looked at by `check_at`;
        its document as it now is (with the crossings announced before)."""
        doc = await self._clocks.find_one_and_update(
            {"_id": ref},
            {
                "$set": {
                    "tenant_id": tenant_id,
                    "conversation_id": conversation_id,
                    "partition": partition,
                    "active": True,
                    "next_check_at": check_at,
                },
                "$max": {"seen_inbound_at": at},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return dict(doc or {"_id": ref, "announced": []})

    async def checked(
        self, ref: str, *, announced: list[str], next_check_at: datetime | None, now: datetime
    ) -> None:
        await self._clocks.update_one(
            {"_id": ref},
            {
                "$set": {
                    "announced": announced[-ANNOUNCED_KEPT:],
                    "active": next_check_at is not None,
                    "next_check_at": next_check_at,
                    "checked_at": now,
                }
            },
        )
