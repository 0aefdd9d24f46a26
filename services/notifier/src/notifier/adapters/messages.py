"""The conversation's message log as the notifier writes it (`messages`: one document per
outbound message, ``_id`` = ``msg_`` + a digest of the idempotency key; the executor logs the
inbound ones; an SMS or WhatsApp message holds its notification record, ``notification``), and
the provider reports no message of theirs was found for, kept (`delivery_reports`, ``_id`` =
tenant and the report's event id; nothing reads them but people).

Writes are field-level and conditional, never a read-modify-write of the document. The
provider's answer to a send is written once, while the record is ``pending``. A report is
recorded by the message's ``_id`` when its send is answered: its history entry only if its event
id is not recorded yet, its status only if it moves forward in the lifecycle (``status_rank``),
in one update; so a redelivered report changes nothing the second time. On FerretDB a
conditional update is not atomic: the two writers of a message (the sending path, the status
consumer) take turns (notifier.domain.lifecycle)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from servicekit.mongo import find_matching

from notifier.domain.lifecycle import NOTIFICATION, PENDING, MessageReport, rank

Document = dict[str, Any]
DUPLICATE_KEY = 11000
WITHOUT_HISTORY = {"status_history": 0}


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

    async def insert(self, messages: list[Document]) -> set[str]:
        """Log messages by their deterministic ids; the ids of those logged before (left as
        they are)."""
        if not messages:
            return set()
        try:
            await self._messages.bulk_write([InsertOne(m) for m in messages], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {messages[e["index"]]["_id"] for e in errors}
        return set()

    async def by_ids(self, ids: Iterable[str]) -> dict[str, Document]:
        """The messages with these ids (without their history), by id."""
        found = await find_matching(
            self._messages, "_id", ids, one_by_one=self._one_by_one, projection=WITHOUT_HISTORY
        )
        return {doc["_id"]: doc for doc in found}

    async def record_sent(self, messages: list[Document]) -> None:
        """What the provider answered for SMS and WhatsApp messages logged pending (as
        notifier.domain.delivery.logged has them now): their notification record, provider id,
        status and error, and the last entry of their history; each only while its record is
        pending (the first answer wins)."""
        ops = []
        for m in messages:
            fields = {
                NOTIFICATION: m[NOTIFICATION],
                "status": m["status"],
                "status_rank": m["status_rank"],
                "error": m["error"],
                "updated_at": m["updated_at"],
            }
            if m["provider_message_id"] is not None:
                fields["provider_message_id"] = m["provider_message_id"]
            ops.append(
                UpdateOne(
                    # no record: logged before records were kept on messages
                    {"_id": m["_id"], f"{NOTIFICATION}.status": {"$in": [PENDING, None]}},
                    {"$set": fields, "$push": {"status_history": m["status_history"][-1]}},
                )
            )
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
            projection=WITHOUT_HISTORY,
            also={"provider": provider, "tenant_id": tenant_id},
        )
        return {doc["provider_message_id"]: doc for doc in found}

    async def apply(self, reports: Sequence[MessageReport], now: datetime) -> int:
        """Record each report (``message_id`` set) on its message if it is due there
        (notifier.domain.lifecycle.standing): the tenant's and provider's message, answered,
        the event not recorded yet; how many were recorded. One command for the reports that
        move the status forward, a second only if some did not."""
        forward = [
            UpdateOne(_due(r, {"$lt": rank(r.report.status)}), _moved(r, now)) for r in reports
        ]
        recorded = await _matched(self._messages, forward)
        if recorded < len(reports):  # late, repeated, or not due: in the history only
            behind = [
                UpdateOne(_due(r, {"$gte": rank(r.report.status)}), _noted(r, now)) for r in reports
            ]
            recorded += await _matched(self._messages, behind)
        return recorded

    async def keep_reports(self, reports: Sequence[MessageReport]) -> None:
        """Reports no message of theirs was found for (or not answered in time), by tenant and
        event id."""
        docs = [
            {
                "_id": f"{r.tenant_id}:{r.report.event_id}",
                "tenant_id": r.tenant_id,
                "event_id": r.report.event_id,
                "provider": r.provider,
                "provider_message_id": r.provider_message_id,
                "message_id": r.message_id,
                "status": r.report.status,
                "at": r.report.at,
                "error_code": r.report.error_code,
                "error_message": r.report.error_message,
            }
            for r in reports
        ]
        await _bulk(self._reports, [InsertOne(d) for d in docs], ordered=False)


def _due(reported: MessageReport, status_rank: Document) -> Document:
    """The message ``reported`` names, if the report is due there and its status rank is as
    ``status_rank`` says."""
    return {
        "_id": reported.message_id,
        "tenant_id": reported.tenant_id,
        "provider": reported.provider,
        "provider_message_id": {"$in": [None, reported.provider_message_id]},
        f"{NOTIFICATION}.status": {"$ne": PENDING},
        "status_events": {"$ne": reported.report.event_id},
        "status_rank": status_rank,
    }


def _noted(reported: MessageReport, now: datetime) -> Document:
    """The report in the history (once: its event id with it)."""
    report = reported.report
    return {
        "$push": {"status_history": report.history_entry()},
        "$addToSet": {"status_events": report.event_id},
        "$set": {"updated_at": now, "provider_message_id": reported.provider_message_id},
    }


def _moved(reported: MessageReport, now: datetime) -> Document:
    """The report in the history, and its status (with its error) the message's."""
    update = _noted(reported, now)
    report = reported.report
    update["$set"] |= {"status": report.status, "status_rank": rank(report.status)}
    if (error := report.error()) is not None:
        update["$set"]["error"] = error.on_message()
    return update


async def _matched(collection: AsyncCollection[Document], ops: list[UpdateOne]) -> int:
    if not ops:
        return 0
    result = await collection.bulk_write(ops, ordered=True)
    return int(result.matched_count)


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
