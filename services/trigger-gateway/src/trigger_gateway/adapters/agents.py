"""Agents, queues and handoffs as the API reads and writes them.

The gateway writes agents (profile, capacity, presence) and queues; the notifier's agent router
reads them and alone writes assignments (so an agent's load has one writer: the router, one
consumer per tenant). Handoffs are opened by the router; the gateway records a decision on one
with a conditional update (open, before its deadline: the first decision wins) and then tells
the waiting execution."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


def agent_ref(tenant_id: str, agent_id: str) -> str:
    return f"{tenant_id}:{agent_id}"


class AgentRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def ensure_indexes(self) -> None:
        await self._db.agents.create_index([("tenant_id", ASCENDING), ("agent_id", ASCENDING)])
        await self._db.queues.create_index([("tenant_id", ASCENDING), ("queue_id", ASCENDING)])

    # -- agents ------------------------------------------------------------------------------

    async def create_agent(
        self, tenant_id: str, agent_id: str, fields: Document, now: datetime
    ) -> bool:
        doc = {
            "_id": agent_ref(tenant_id, agent_id),
            "tenant_id": tenant_id,
            "agent_id": agent_id,
            **fields,
            "created_at": now,
            "updated_at": now,
        }
        existing = await self._db.agents.find_one({"_id": doc["_id"]}, {"_id": 1})
        if existing is not None:
            return False
        await self._db.agents.insert_one(doc)
        return True

    async def agent(self, tenant_id: str, agent_id: str) -> Document | None:
        return await self._db.agents.find_one({"_id": agent_ref(tenant_id, agent_id)})

    async def agents(self, tenant_id: str) -> list[Document]:
        docs = await self._db.agents.find({"tenant_id": tenant_id}).to_list(None)
        return sorted(docs, key=lambda d: d["agent_id"])

    async def update_agent(
        self, tenant_id: str, agent_id: str, fields: Document, now: datetime
    ) -> Document | None:
        return await self._db.agents.find_one_and_update(
            {"_id": agent_ref(tenant_id, agent_id)},
            {"$set": {**fields, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )

    async def delete_agent(self, tenant_id: str, agent_id: str) -> bool:
        result = await self._db.agents.delete_one({"_id": agent_ref(tenant_id, agent_id)})
        return result.deleted_count == 1

    async def load(self, tenant_id: str, agent_id: str) -> int:
        return await self._db.assignments.count_documents(
            {"tenant_id": tenant_id, "agent_id": agent_id, "status": "active"}
        )

    # -- queues ------------------------------------------------------------------------------

    async def put_queue(
        self, tenant_id: str, queue_id: str, fields: Document, now: datetime
    ) -> Document:
        ref = agent_ref(tenant_id, queue_id)
        existing = await self._db.queues.find_one({"_id": ref})
        doc = {
            "_id": ref,
            "tenant_id": tenant_id,
            "queue_id": queue_id,
            **fields,
            "created_at": (existing or {}).get("created_at", now),
            "updated_at": now,
        }
        await self._db.queues.replace_one({"_id": ref}, doc, upsert=True)
        return doc

    async def queue(self, tenant_id: str, queue_id: str) -> Document | None:
        return await self._db.queues.find_one({"_id": agent_ref(tenant_id, queue_id)})

    async def queues(self, tenant_id: str) -> list[Document]:
        docs = await self._db.queues.find({"tenant_id": tenant_id}).to_list(None)
        return sorted(docs, key=lambda d: d["queue_id"])

    async def delete_queue(self, tenant_id: str, queue_id: str) -> bool:
        result = await self._db.queues.delete_one({"_id": agent_ref(tenant_id, queue_id)})
        return result.deleted_count == 1

    async def assignments(self, tenant_id: str, status: str) -> list[Document]:
        """A tenant's assignments in one status, in the order queued ones get an agent."""
        docs = await self._db.assignments.find({"tenant_id": tenant_id, "status": status}).to_list(
            None
        )
        return sorted(
            docs, key=lambda d: (-int(d.get("priority") or 0), d["requested_at"], d["_id"])
        )

    # -- handoffs ----------------------------------------------------------------------------

    async def handoffs(self, tenant_id: str, status: str | None, limit: int) -> list[Document]:
        query: Document = {"tenant_id": tenant_id}
        if status:
            query["status"] = status
        cursor = self._db.handoffs.find(query).sort([("created_at", DESCENDING)]).limit(limit)
        return await cursor.to_list(None)

    async def handoff(self, tenant_id: str, handoff_id: str) -> Document | None:
        return await self._db.handoffs.find_one({"_id": handoff_id, "tenant_id": tenant_id})

    async def decide(
        self, tenant_id: str, handoff_id: str, decision: Document, status: str
    ) -> Document | None:
        """The decision recorded, if the handoff is still open: the first decision wins."""
        return await self._db.handoffs.find_one_and_update(
            {"_id": handoff_id, "tenant_id": tenant_id, "status": "open"},
            {"$set": {"status": status, "decision": decision, "decided_at": decision["at"]}},
            return_document=ReturnDocument.AFTER,
        )
