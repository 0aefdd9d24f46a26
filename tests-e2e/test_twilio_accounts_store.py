"""The gateway's Twilio accounts on the real MongoDB-wire server: a number and an account sid
belong to one tenant (unique `_id` and index), a conflict changes nothing, the lookups the
webhooks make find what was stored, the token stays sealed."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import MONGO
from pymongo import AsyncMongoClient
from servicekit.sealing import Kek, Keyring
from trigger_gateway.adapters.channels import (
    ChannelConflict,
    PhoneNumber,
    TwilioAccountRepository,
    ensure_channel_indexes,
)
from trigger_gateway.domain.channels import TWILIO_AUTH_TOKEN, number_id_for

pytestmark = pytest.mark.e2e
TOKEN = "00112233445566778899aabbccddeeff"
KEYS = Keyring([Kek("e2e", os.urandom(32))])


@pytest.fixture
async def repository(infrastructure: None) -> AsyncIterator[tuple[TwilioAccountRepository, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True)
    db = client["twilio_" + secrets.token_hex(4)]
    try:
        await ensure_channel_indexes(db)
        await ensure_channel_indexes(db)  # idempotent
        yield TwilioAccountRepository(db), db
    finally:
        await client.drop_database(db.name)
        await client.close()


def numbers(tenant: str, *phones: str) -> list[PhoneNumber]:
    return [PhoneNumber(p, number_id_for(tenant, p), tenant, False, None) for p in phones]


async def test_accounts_and_numbers_belong_to_one_tenant(repository) -> None:
    repo, db = repository
    sid_a, sid_b = "AC" + "a" * 32, "AC" + "b" * 32
    sealed = KEYS.seal(TOKEN, tenant_id="ten_a", purpose=TWILIO_AUTH_TOKEN)
    stored = await repo.put(
        "ten_a", sid_a, sealed, numbers("ten_a", "+15550001111", "+15550002222")
    )
    assert [n.phone_number for n in stored.numbers] == ["+15550001111", "+15550002222"]
    assert TOKEN not in str(await db.twilio_accounts.find_one({"_id": "ten_a"}))

    b_token = KEYS.seal(TOKEN, tenant_id="ten_b", purpose=TWILIO_AUTH_TOKEN)
    with pytest.raises(ChannelConflict) as taken:
        await repo.put("ten_b", sid_b, b_token, numbers("ten_b", "+15550003333", "+15550002222"))
    assert taken.value.numbers == ["+15550002222"]
    assert await repo.get("ten_b") is None
    assert await db.phone_numbers.find_one({"_id": "+15550003333"}) is None  # released again
    with pytest.raises(ChannelConflict) as taken:
        await repo.put("ten_b", sid_a, b_token, [])
    assert taken.value.account_sid == sid_a

    # the tenant's own change: a number dropped is released, the token kept
    changed = await repo.put("ten_a", sid_a, None, numbers("ten_a", "+15550002222"))
    assert [n.phone_number for n in changed.numbers] == ["+15550002222"]
    assert changed.auth_token == sealed and changed.created_at == stored.created_at
    await repo.put("ten_b", sid_b, b_token, numbers("ten_b", "+15550001111"))

    found, kept = await repo.for_number("+15550001111")
    assert found is not None and found[1].tenant_id == "ten_b" and not kept
    assert found[0].number_id == number_id_for("ten_b", "+15550001111")
    by_sid, kept = await repo.for_account_sid(sid_a)
    assert by_sid is not None and by_sid.tenant_id == "ten_a" and not kept
    opened = KEYS.open(by_sid.auth_token, tenant_id="ten_a", purpose=TWILIO_AUTH_TOKEN)
    assert opened.reveal() == TOKEN

    # kept for the next webhooks; a change by another process shows when asked for fresh
    assert (await repo.for_number("+15550001111")) == (found, True)
    other_process = TwilioAccountRepository(db)
    await other_process.put("ten_a", sid_a, b_token, numbers("ten_a", "+15550002222"))
    kept_sid, kept = await repo.for_account_sid(sid_a)
    assert kept and kept_sid == by_sid  # the old token, until the signature fails with it
    fresh, kept = await repo.for_account_sid(sid_a, fresh=True)
    assert fresh is not None and fresh.auth_token == b_token and not kept

    assert await repo.delete("ten_a") is True  # this process's change forgets what it kept
    assert await repo.for_number("+15550002222") == (None, False)
    assert await repo.for_account_sid(sid_a) == (None, False)
    assert await repo.delete("ten_a") is False
