"""Key rotation on the real MongoDB-wire server: `python -m servicekit.rewrap` moves every
sealed secret (a connection's credentials, a Teams webhook in a list) to the new KEK without
changing what it holds."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from conftest import MONGO, REPO
from pymongo import MongoClient
from servicekit.sealing import Kek, Keyring, Sealed


def _kek(kid: str) -> Kek:
    return Kek(kid, os.urandom(32))


@pytest.fixture
def database(infrastructure):
    name = "rewrap_" + secrets.token_hex(4)
    client: MongoClient = MongoClient(MONGO)
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


def test_the_command_moves_every_sealed_secret_to_the_new_kek(database) -> None:
    old, new = _kek("old"), _kek("new")
    before = Keyring([old])
    api_key = before.seal("sk_live_x", tenant_id="t1", purpose="connection.credentials:con_1")
    hook = before.seal("https://hooks.example/1", tenant_id="t1", purpose="teams")
    database.connections.insert_one({"_id": "con_1", "credentials": api_key.to_document()})
    database.chatops.insert_one(
        {"_id": "t1", "teams": {"webhooks": [{"name": "ops", "url": hook.to_document()}]}}
    )
    entries = f"new:{_b64(new.key)},old:{_b64(old.key)}"
    env = {
        **os.environ,
        "MONGO_URI": MONGO,
        "MONGO_DATABASE": database.name,
        "CONNECTFLO_KEKS": entries,
    }
    env.pop("CONNECTFLO_KEK_FILE", None)
    run = subprocess.run(
        [sys.executable, "-m", "servicekit.rewrap"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "re-wrapped 2" in run.stdout and "0 left" in run.stdout, run.stdout
    assert "sk_live_x" not in run.stdout + run.stderr

    only_new = Keyring([new])
    stored = Sealed.from_document(database.connections.find_one({"_id": "con_1"})["credentials"])
    assert stored.kid == "new" and stored.fingerprint == api_key.fingerprint
    opened = only_new.open(stored, tenant_id="t1", purpose="connection.credentials:con_1")
    assert opened.reveal() == "sk_live_x"
    teams = database.chatops.find_one({"_id": "t1"})["teams"]["webhooks"][0]["url"]
    assert only_new.open(Sealed.from_document(teams), tenant_id="t1", purpose="teams").reveal() == (
        "https://hooks.example/1"
    )
    again = subprocess.run(
        [sys.executable, "-m", "servicekit.rewrap"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "re-wrapped 0" in again.stdout and "2 already under it" in again.stdout


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()
