"""The gateway's connections on the real MongoDB-wire server: a name is the tenant's once, on
create and on rename (FerretDB answers a rename onto a taken name with an InternalError, not
DuplicateKeyError: still NameTaken, nothing changed), one default per type."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import MONGO
from pymongo import AsyncMongoClient
from trigger_gateway.adapters.connections import ConnectionRepository, NameTaken

pytestmark = pytest.mark.e2e


@pytest.fixture
async def repository(infrastructure: None) -> AsyncIterator[ConnectionRepository]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True)
    db = client["connections_" + secrets.token_hex(4)]
    try:
        repo = ConnectionRepository(db)
        await repo.ensure_indexes()
        yield repo
    finally:
        await client.drop_database(db.name)
        await client.close()


def connection(connection_id: str, name: str, tenant: str = "ten_a") -> dict[str, Any]:
    return {
        "_id": connection_id,
        "tenant_id": tenant,
        "type": "stripe",
        "name": name,
        "is_default": True,
    }


async def test_a_name_is_the_tenants_once_on_create_and_rename(repository) -> None:
    await repository.create(connection("con_a", "Live"))
    await repository.create(connection("con_b", "EU"))
    await repository.create(connection("con_c", "Live", tenant="ten_b"))  # another tenant's
    with pytest.raises(NameTaken):
        await repository.create(connection("con_d", "Live"))
    with pytest.raises(NameTaken):
        await repository.update("ten_a", "con_b", {"name": "Live", "is_active": False})
    unchanged = await repository.get("ten_a", "con_b")
    assert unchanged is not None and unchanged["name"] == "EU" and "is_active" not in unchanged
    renamed = await repository.update("ten_a", "con_b", {"name": "Europe"})
    assert renamed is not None and renamed["name"] == "Europe"
    defaults = {d["_id"]: d["is_default"] for d in await repository.list("ten_a", "stripe")}
    assert defaults == {"con_a": False, "con_b": True}
