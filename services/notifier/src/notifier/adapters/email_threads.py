"""The thread a reply by email continues: the conversation's last inbound email (the executor
logs it: ``provider_message_id`` is its Message-ID, with its ``subject`` and sender), read by
(tenant, conversation, created_at), the message log's index."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
PROJECTION = {"provider_message_id": 1, "subject": 1, "from": 1, "to": 1}


class EmailThreads:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._messages = db.messages

    async def last_emails(
        self, conversations: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Document]:
        """The last inbound email of each (tenant, conversation) that has one."""
        wanted = sorted(set(conversations))

        async def one(tenant: str, conversation: str) -> Document | None:
            query = {
                "tenant_id": tenant,
                "conversation_id": conversation,
                "direction": "inbound",
                "channel": "email",
            }
            cursor = self._messages.find(
                query, PROJECTION, sort=[("created_at", DESCENDING)], limit=1
            )
            async for doc in cursor:
                return doc
            return None

        found = await asyncio.gather(*(one(t, c) for t, c in wanted))
        return {key: doc for key, doc in zip(wanted, found, strict=True) if doc is not None}
