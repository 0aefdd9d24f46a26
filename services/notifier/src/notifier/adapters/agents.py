"""What the agent router reads and writes in MongoDB.

Read (the gateway writes them through its API): ``agents`` and ``queues`` of a tenant.
Written by the router alone (one consumer at a time per tenant: the routing topic is keyed by
tenant): ``assignments`` (one per request, ``_id`` from its idempotency key: a redelivered
request finds it), ``routing_state`` (per tenant: when each agent was last given a
conversation, for round robin), the ``handoffs`` it opens (the gateway records the decisions)
and the conversations' assignment fields. Equality queries only (FerretDB pushes those down).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any

from contracts.conversations import status_change
from pymongo import ASCENDING, DESCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from servicekit.mongo import find_matching

from notifier.domain.routing import ACTIVE, QUEUED

Document = dict[str, Any]


class AgentBoardStore:
    def __init__(self, db: AsyncDatabase[Document], *, one_by_one: bool = False) -> None:
        self._db = db
        self._one_by_one = one_by_one

    async def ensure_indexes(self) -> None:
        await asyncio.gather(
            self._db.agents.create_index([("tenant_id", ASCENDING), ("agent_id", ASCENDING)]),
            self._db.queues.create_index([("tenant_id", ASCENDING), ("queue_id", ASCENDING)]),
            self._db.assignments.create_index([("tenant_id", ASCENDING), ("status", ASCENDING)]),
            self._db.assignments.create_index(
                [("tenant_id", ASCENDING), ("conversation_id", ASCENDING)]
            ),
            self._db.assignments.create_index(
                [("tenant_id", ASCENDING), ("agent_id", ASCENDING), ("status", ASCENDING)]
            ),
            self._db.handoffs.create_index(
                [("tenant_id", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)]
            ),
            self._db.handoffs.create_index(
                [("tenant_id", ASCENDING), ("conversation_id", ASCENDING)]
            ),
        )

    async def board(self, tenant_id: str) -> tuple[list[Document], ...]:
        """The tenant's agents, queues, active and queued assignments, and routing state."""
        agents, queues, active, queued, state = await asyncio.gather(
            self._db.agents.find({"tenant_id": tenant_id}).to_list(None),
            self._db.queues.find({"tenant_id": tenant_id}).to_list(None),
            self._db.assignments.find({"tenant_id": tenant_id, "status": ACTIVE}).to_list(None),
            self._db.assignments.find({"tenant_id": tenant_id, "status": QUEUED}).to_list(None),
            self._db.routing_state.find({"_id": tenant_id}).to_list(1),
        )
        return agents, queues, active, queued, state

    async def assignments(self, ids: Iterable[str]) -> dict[str, Document]:
        found = await find_matching(self._db.assignments, "_id", ids, one_by_one=self._one_by_one)
        return {doc["_id"]: doc for doc in found}

    async def handoffs(self, ids: Iterable[str]) -> dict[str, Document]:
        found = await find_matching(self._db.handoffs, "_id", ids, one_by_one=self._one_by_one)
        return {doc["_id"]: doc for doc in found}

    async def conversations(self, refs: Iterable[str]) -> dict[str, Document]:
        found = await find_matching(
            self._db.conversations,
            "_id",
            refs,
            one_by_one=self._one_by_one,
            projection={"active_runs": 1, "status": 1, "channel": 1},
        )
        return {doc["_id"]: doc for doc in found}

    async def write(
        self,
        tenant_id: str,
        *,
        inserted: list[Document],
        updated: dict[str, Document],
        handoffs: list[Document],
        conversations: dict[str, Document],
        last_assigned: dict[str, datetime],
    ) -> None:
        """A tenant's batch in one round: new assignments and handoffs, the assignments that
        changed (``updated``: ``$set`` by ``_id``), the conversations' assignment fields and
        the routing state."""
        writes: list[Coroutine[Any, Any, Any]] = []
        if inserted or updated:
            ops: list[Any] = [InsertOne(doc) for doc in inserted]
            ops += [UpdateOne({"_id": i}, {"$set": s}) for i, s in sorted(updated.items())]
            writes.append(self._db.assignments.bulk_write(ops, ordered=True))
        if handoffs:
            writes.append(self._db.handoffs.insert_many(handoffs, ordered=False))
        if conversations:
            ops = [
                UpdateOne({"_id": r}, _conversation_update(s))
                for r, s in sorted(conversations.items())
            ]
            writes.append(self._db.conversations.bulk_write(ops, ordered=False))
        if last_assigned:
            fields = {f"last_assigned.{agent}": at for agent, at in sorted(last_assigned.items())}
            writes.append(
                self._db.routing_state.update_one({"_id": tenant_id}, {"$set": fields}, upsert=True)
            )
        await asyncio.gather(*writes)


def _conversation_update(fields: Document) -> Document:
    """The conversation's fields set; a status among them logged (contracts.conversations:
    SLA clocks read the log)."""
    if "status" not in fields:
        return {"$set": fields}
    change = status_change(fields["status"], fields.get("updated_at") or datetime.now(UTC))
    return {"$set": {**fields, **change["$set"]}, "$push": change["$push"]}
