"""A database made by an earlier version keeps working: the scheduler starts on it even where
the earlier version named an index differently (MongoDB refuses the same keys under two names)."""

from __future__ import annotations

import secrets

import pytest
from pymongo import ASCENDING, AsyncMongoClient
from scheduler.adapters.store import ensure_indexes

pytestmark = pytest.mark.e2e


async def test_scheduler_indexes_on_a_database_with_earlier_index_names(stack) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(stack.mongo_uri)
    db = client["upgrade_" + secrets.token_hex(4)]
    try:
        await db.timers.create_index([("execution_id", ASCENDING)])  # named execution_id_1
        await ensure_indexes(db)
        await ensure_indexes(db)  # and again: idempotent
        names = [index["name"] async for index in await db.timers.list_indexes()]
        assert "execution_id_1" in names and "by_partition_bucket" in names
    finally:
        await client.drop_database(db.name)
        await client.close()
