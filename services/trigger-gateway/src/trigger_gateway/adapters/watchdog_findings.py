"""The `watchdog_findings` collection (read-only here; the scheduler's watchdog writes it): what
it found stuck and what it asked the executor to do, `_id` = `<execution>:<version>:<action>`."""

from __future__ import annotations

from typing import Any

from contracts.watchdog import FINDINGS
from pymongo.asynchronous.database import AsyncDatabase

from trigger_gateway.adapters.keyset import newest_first

Document = dict[str, Any]


class WatchdogFindingRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._findings = db[FINDINGS]

    async def latest(
        self, tenant_id: str, *, execution_id: str | None, limit: int
    ) -> list[Document]:
        """The tenant's findings, newest first (one execution's with ``execution_id``)."""
        query: Document = {"tenant_id": tenant_id}
        if execution_id:
            query["execution_id"] = execution_id
        cursor = self._findings.find(query, sort=newest_first("found_at")).limit(limit)
        return [doc async for doc in cursor]
