"""What the services assume of the MongoDB-wire server under the tests (FerretDB on PostgreSQL
here): it filters by equality on any field in its storage, so the executor's conditional
replace on {_id, version} is one command and a stale version matches nothing."""

from __future__ import annotations

import secrets

import pytest
from executor.adapters.store import ConcurrentUpdate, ExecutionRepository
from servicekit.mongo import Mongo

pytestmark = pytest.mark.e2e


async def test_a_stale_version_replaces_nothing_in_one_command(stack) -> None:
    mongo = Mongo.connect(stack.mongo_uri, "pushdown_" + secrets.token_hex(4))
    try:
        await mongo.db.executions.insert_one({"_id": "exe_1", "version": 2, "status": "running"})
        assert await mongo.pushes_down_fields("executions")
        executions = ExecutionRepository(mongo.db)  # no version read first

        with pytest.raises(ConcurrentUpdate):
            await executions.save({"_id": "exe_1", "version": 2, "status": "x"}, expected_version=1)
        await executions.save({"_id": "exe_1", "version": 3, "status": "done"}, expected_version=2)

        stored = await mongo.db.executions.find_one({"_id": "exe_1"})
        assert stored is not None and (stored["version"], stored["status"]) == (3, "done")
    finally:
        await mongo.client.drop_database(mongo.db.name)
        await mongo.close()
