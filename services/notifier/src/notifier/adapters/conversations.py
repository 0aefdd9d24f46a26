"""The conversations as the notifier reads and writes them (the executor creates them: ``_id``
= ``<tenant>:<conversation id>``). Read: the customer's and the tenant's addresses, for a
message whose request names none. Written: its last failed delivery (the last outbound time is
the executor's, written when it asks for the message).
Field-level updates by ``_id``, never an upsert: a conversation the executor did not create is
not made here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from servicekit.mongo import find_matching

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Failure:
    """A message of the conversation that did not reach the customer."""

    ref: str
    message_id: str
    status: str
    error: Document
    at: datetime


class ConversationUpdates:
    def __init__(self, db: AsyncDatabase[Document], *, one_by_one: bool = False) -> None:
        """``one_by_one``: on FerretDB, reads by ``_id`` one at a time, all at once."""
        self._conversations = db.conversations
        self._one_by_one = one_by_one

    async def addresses(self, refs: Iterable[str]) -> dict[str, Document]:
        found = await find_matching(
            self._conversations,
            "_id",
            refs,
            one_by_one=self._one_by_one,
            projection={"contact_address": 1, "tenant_address": 1, "channel": 1},
        )
        return {doc["_id"]: doc for doc in found}

    async def record_failures(self, failed: list[Failure]) -> None:
        """One update per conversation: its last failed delivery."""
        failures = {f.ref: f for f in sorted(failed, key=lambda f: f.at)}  # the last one wins
        ops = [
            UpdateOne(
                {"_id": ref},
                {
                    "$set": {
                        "last_delivery_failure": {
                            "message_id": f.message_id,
                            "status": f.status,
                            "error": f.error,
                            "at": f.at,
                        }
                    },
                    "$max": {"updated_at": f.at},
                },
            )
            for ref, f in sorted(failures.items())
        ]
        if ops:
            await self._conversations.bulk_write(ops, ordered=False)
