"""MongoDB: `integration_calls` (one per idempotency key, written before acting), the tenants'
connections in `integrations` (written by the gateway, read here) and `dead_letters`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from integrations.domain.operations import Connection

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

    async def finish(
        self, key: str, status: str, result: Document | None, error: Document | None, at: Any
    ) -> None:
        """The outcome; result and error as JSON text (a provider's keys may hold '.' or '$')."""
        await self._db.integration_calls.update_one(
            {"_id": key},
            {
                "$set": {
                    "status": status,
                    "result_json": None if result is None else json.dumps(result),
                    "error_json": None if error is None else json.dumps(error),
                    "finished_at": at,
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


class ConnectionRepository:
    """The tenant's connection per integration, cached for `ttl_seconds` (absence too), so a
    busy workflow costs no read per call; a change made through the gateway applies within
    that time."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Connection | None]] = {}

    async def get(self, tenant_id: str, integration: str) -> Connection | None:
        key = (tenant_id, integration)
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        doc = await self._db.integrations.find_one({"_id": f"{tenant_id}:{integration}"})
        connection = None if doc is None else Connection.model_validate(doc)
        if len(self._cache) > 10_000:  # bounded: forget everything rather than grow
            self._cache.clear()
        self._cache[key] = (now, connection)
        return connection
