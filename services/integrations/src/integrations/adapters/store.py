"""MongoDB: `integration_calls`, one per idempotency key, written before acting (the
connections: integrations.adapters.connections)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]


class IntegrationCallRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def ensure_indexes(self) -> None:
        await self._db.integration_calls.create_index([("execution_id", ASCENDING)])

    async def start(self, doc: Document) -> Document | None:
        """Record a call as started; the earlier record when the key was seen before."""
        try:
            await self._db.integration_calls.insert_one(doc)
        except DuplicateKeyError:
            return await self._db.integration_calls.find_one({"_id": doc["_id"]})
        return None

    async def finish(self, key: str, outcome: Document) -> None:
        """The outcome (``status`` derived): result and error as JSON text (a provider's keys
        may hold '.' or '$'), the request's summary, attempts, latency, status code."""
        result, error = outcome.get("result"), outcome.get("error")
        fields = {k: v for k, v in outcome.items() if k not in ("result", "error")}
        await self._db.integration_calls.update_one(
            {"_id": key},
            {
                "$set": {
                    **fields,
                    "status": "failed" if error else "succeeded",
                    "result_json": None if result is None else json.dumps(result),
                    "error_json": None if error is None else json.dumps(error),
                    "finished_at": datetime.now(UTC),
                }
            },
        )


def recorded_outcome(doc: Document) -> tuple[Document | None, Document | None]:
    """(result, error) of a finished call record."""
    result, error = doc.get("result_json"), doc.get("error_json")
    return (
        None if result is None else json.loads(result),
        None if error is None else json.loads(error),
    )
