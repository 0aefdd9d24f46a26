"""The conversation's message log as the notifier writes it (`messages`: one document per
outbound message, ``_id`` = ``msg_`` + a digest of the idempotency key; the executor logs the
inbound ones), and the provider reports kept until their message is known
(`delivery_reports`, ``_id`` = tenant and the report's event id).

Status writes are field-level and conditional, never a read-modify-write of the document: a
history entry is pushed only if its event id is not recorded yet, the status is set only if it
moves forward in the lifecycle (``status_rank``). So a redelivered report, or one applied by
both the sending path and the status consumer, changes nothing the second time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from servicekit.mongo import find_matching

from notifier.domain.lifecycle import Report, StatusChange, rank

Document = dict[str, Any]
DUPLICATE_KEY = 11000


class MessageLog:
    def __init__(self, db: AsyncDatabase[Document], *, one_by_one: bool = False) -> None:
        """``one_by_one``: on FerretDB, reads by provider id one equality query each, all at
        once (servicekit.mongo.find_matching: it never pushes ``$in`` down)."""
        self._messages = db.messages
        self._reports = db.delivery_reports
        self._one_by_one = one_by_one

    async def ensure_indexes(self) -> None:
        await self._messages.create_index(
            [("provider", ASCENDING), ("provider_message_id", ASCENDING)]
        )
        await self._messages.create_index([("execution_id", ASCENDING), ("created_at", ASCENDING)])
        await self._reports.create_index(
            [("provider", ASCENDING), ("provider_message_id", ASCENDING)]
        )

    async def insert(self, messages: list[Document]) -> None:
        """Log messages by their deterministic ids (one already logged is left as it is)."""
        await _bulk(self._messages, [InsertOne(m) for m in messages], ordered=False)

    async def record_sent(self, messages: list[Document]) -> None:
        """What the provider answered for messages logged as pending: their provider id, status
        and error, and the last entry of their history."""
        ops = [
            UpdateOne(
                {"_id": m["_id"]},
                {
                    "$set": {
                        "provider_message_id": m["provider_message_id"],
                        "status": m["status"],
                        "status_rank": m["status_rank"],
                        "error": m["error"],
                        "updated_at": m["updated_at"],
                    },
                    "$push": {"status_history": m["status_history"][-1]},
                },
            )
            for m in messages
        ]
        await _bulk(self._messages, ops)

    async def by_provider_ids(
        self, tenant_id: str, provider: str, ids: Iterable[str]
    ) -> dict[str, Document]:
        """The tenant's messages a provider knows by these ids, by id (a report is about the
        tenant whose account the provider signed it with: never another tenant's message)."""
        found = await find_matching(
            self._messages,
            "provider_message_id",
            ids,
            one_by_one=self._one_by_one,
            projection={"status_history": 0},
            also={"provider": provider, "tenant_id": tenant_id},
        )
        return {doc["provider_message_id"]: doc for doc in found}

    async def apply(self, changes: list[StatusChange], now: datetime) -> None:
        """Each change's history entries (once per event id) and its status (only forward)."""
        ops: list[UpdateOne] = []
        for change in changes:
            for event_id, entry in change.new_entries:
                ops.append(
                    UpdateOne(
                        {"_id": change.message_id, "status_events": {"$ne": event_id}},
                        {
                            "$push": {"status_history": entry},
                            "$addToSet": {"status_events": event_id},
                            "$set": {"updated_at": now},
                        },
                    )
                )
            if change.status is not None:
                fields: Document = {"status": change.status, "status_rank": rank(change.status)}
                if change.error is not None:
                    fields["error"] = change.error.on_message()
                ops.append(
                    UpdateOne(
                        {"_id": change.message_id, "status_rank": {"$lt": rank(change.status)}},
                        {"$set": fields},
                    )
                )
        await _bulk(self._messages, ops)

    async def keep_reports(
        self, tenant_id: str, provider: str, reports: list[tuple[str, Report]]
    ) -> None:
        """A tenant's provider reports by event id, with the provider's message id they are
        about."""
        docs = [
            {
                "_id": f"{tenant_id}:{report.event_id}",
                "tenant_id": tenant_id,
                "event_id": report.event_id,
                "provider": provider,
                "provider_message_id": provider_id,
                "status": report.status,
                "at": report.at,
                "error_code": report.error_code,
                "error_message": report.error_message,
            }
            for provider_id, report in reports
        ]
        await _bulk(self._reports, [InsertOne(d) for d in docs], ordered=False)

    async def reports_for(
        self, tenant_id: str, provider: str, ids: Iterable[str]
    ) -> dict[str, list[Report]]:
        """The tenant's reports kept for these provider message ids, oldest first."""
        kept = await find_matching(
            self._reports,
            "provider_message_id",
            ids,
            one_by_one=self._one_by_one,
            also={"provider": provider, "tenant_id": tenant_id},
        )
        found: dict[str, list[Report]] = {}
        for doc in sorted(kept, key=lambda d: d["at"]):
            found.setdefault(doc["provider_message_id"], []).append(
                Report(
                    event_id=doc["event_id"],
                    status=doc["status"],
                    at=doc["at"],
                    error_code=doc.get("error_code"),
                    error_message=doc.get("error_message"),
                )
            )
        return found


async def _bulk(
    collection: AsyncCollection[Document], ops: list[Any], *, ordered: bool = True
) -> None:
    """One command; with ``ordered=False`` a duplicate key (a document written before) is
    not an error."""
    if not ops:
        return
    try:
        await collection.bulk_write(ops, ordered=ordered)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if ordered or any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
