"""The `dead_letters` collection (read-only here): one document per DeadLettered event, written
by the consumer that gave up on a message, `_id` = dead_letter_id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from trigger_gateway.adapters.keyset import newest_first, older_than

Document = dict[str, Any]


class DeadLetterReadRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def page(
        self,
        *,
        tenant_id: str | None,
        consumer: str | None,
        topic: str | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[Document]:
        """Newest first; `tenant_id` None lists every tenant's (admin)."""
        query: Document = {}
        if tenant_id is not None:
            # The tenant travels in the original message's envelope headers.
            query["original_headers.tenant_id"] = tenant_id
        if consumer:
            query["consumer"] = consumer
        if topic:
            query["original_topic"] = topic
        if after is not None:
            query.update(older_than("failed_at", *after))
        cursor = self._db.dead_letters.find(query, sort=newest_first("failed_at")).limit(limit)
        return [doc async for doc in cursor]
