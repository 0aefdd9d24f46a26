"""The messages an execution sent, read from the conversations' message log (`messages`, written
by the notifier with the execution and node that sent each; index (execution_id, created_at))."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class ExecutionMessageLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def of_execution(
        self, tenant_id: str, execution_id: str, *, limit: int
    ) -> list[Document]:
        """Oldest first, at most ``limit``."""
        cursor = self._db.messages.find(
            {"execution_id": execution_id, "tenant_id": tenant_id},
            sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
        ).limit(limit)
        return [doc async for doc in cursor]
