"""Sealed secrets: they open for their owner and purpose only, under any configured KEK, never
show their value, and move to a new KEK by re-wrapping."""

from __future__ import annotations

import base64
import logging
import os
import pickle
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from servicekit.sealing import (
    CannotOpen,
    Kek,
    Keyring,
    KeyringError,
    Sealed,
    Secret,
    UnknownKey,
    dev_key_file,
    main,
    new_kek_entry,
)

TOKEN = "0123456789abcdef0123456789abcdef"
OWNER = {"tenant_id": "ten_a", "purpose": "twilio.auth_token"}


def keyring(*kids: str) -> Keyring:
    return Keyring([Kek(kid, os.urandom(32)) for kid in kids])


def test_a_sealed_value_opens_for_its_owner_and_purpose() -> None:
    keys = keyring("k1")
    sealed = keys.seal(TOKEN, **OWNER)
    assert keys.open(sealed, **OWNER).reveal() == TOKEN
    assert keys.open(keys.seal(Secret(TOKEN), **OWNER), **OWNER) == Secret(TOKEN)


def test_what_is_stored_holds_neither_the_value_nor_a_key() -> None:
    keys = keyring("k1")
    sealed = keys.seal(TOKEN, **OWNER)
    stored = sealed.to_document()
    assert stored["kid"] == "k1" and stored["v"] == 1
    assert TOKEN not in str(stored) and TOKEN.encode() not in sealed.ciphertext
    reread = Sealed.from_document(stored)
    assert reread == sealed
    assert keys.open(reread, **OWNER).reveal() == TOKEN


def test_each_seal_has_its_own_data_key_and_nonce() -> None:
    keys = keyring("k1")
    one, two = keys.seal(TOKEN, **OWNER), keys.seal(TOKEN, **OWNER)
    assert one.ciphertext != two.ciphertext and one.wrapped_key != two.wrapped_key
    assert one.nonce != two.nonce


@pytest.mark.parametrize(
    "other",
    [
        {"tenant_id": "ten_b", "purpose": "twilio.auth_token"},
        {"tenant_id": "ten_a", "purpose": "sendgrid.api_key"},
        {"tenant_id": "ten_a\x00", "purpose": "twilio.auth_token"},
    ],
)
def test_a_sealed_value_does_not_open_for_another_owner_or_purpose(other) -> None:
    keys = keyring("k1")
    sealed = keys.seal(TOKEN, **OWNER)
    with pytest.raises(CannotOpen) as refused:
        keys.open(sealed, **other)
    assert TOKEN not in str(refused.value)


@pytest.mark.parametrize("part", ["ciphertext", "nonce", "wrapped_key"])
def test_a_tampered_sealed_value_does_not_open(part) -> None:
    keys = keyring("k1")
    sealed = keys.seal(TOKEN, **OWNER)
    altered = bytearray(getattr(sealed, part))
    altered[-1] ^= 1
    with pytest.raises(CannotOpen):
        keys.open(replace(sealed, **{part: bytes(altered)}), **OWNER)


def test_a_data_key_wrapped_under_one_kid_does_not_unwrap_labelled_as_another() -> None:
    shared = os.urandom(32)
    keys = Keyring([Kek("k1", shared), Kek("k2", shared)])
    sealed = keys.seal(TOKEN, **OWNER)
    with pytest.raises(CannotOpen):
        keys.open(replace(sealed, kid="k2"), **OWNER)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"v": 2, "kid": "k1", "key": "", "nonce": "", "ct": "", "fp": "", "sealed_at": None},
        {"v": 1, "kid": "k1", "key": "not base64!", "nonce": "", "ct": "", "fp": ""},
    ],
)
def test_a_malformed_document_is_refused_as_not_opening(document) -> None:
    with pytest.raises(CannotOpen):
        Sealed.from_document(document)


def test_sealed_under_an_old_kek_opens_and_rewrap_moves_it_to_the_new_one() -> None:
    old = Kek("k0", os.urandom(32))
    sealed = Keyring([old]).seal(TOKEN, **OWNER)
    new = Kek("k1", os.urandom(32))
    rotated = Keyring([new, old])
    assert rotated.needs_rewrap(sealed)
    assert rotated.open(sealed, **OWNER).reveal() == TOKEN
    moved = rotated.rewrap(sealed)
    assert moved.kid == "k1" and not rotated.needs_rewrap(moved)
    assert moved.ciphertext == sealed.ciphertext and moved.fingerprint == sealed.fingerprint
    assert rotated.rewrap(moved) is moved
    # the old KEK can be dropped now
    assert Keyring([new]).open(moved, **OWNER).reveal() == TOKEN
    with pytest.raises(UnknownKey):
        Keyring([new]).open(sealed, **OWNER)


def test_the_fingerprint_is_stable_for_a_value_and_owner_and_shows_nothing_of_it() -> None:
    keys = keyring("k1")
    first, again = keys.seal(TOKEN, **OWNER), keys.seal(TOKEN, **OWNER)
    assert first.fingerprint == again.fingerprint and len(first.fingerprint) == 8
    assert keys.seal("another token", **OWNER).fingerprint != first.fingerprint
    assert keys.seal(TOKEN, tenant_id="ten_b", purpose="x").fingerprint != first.fingerprint
    # keyed: another keyring's fingerprint of the same value differs
    assert keyring("k1").seal(TOKEN, **OWNER).fingerprint != first.fingerprint


def test_no_repr_shows_a_secret_or_a_key(caplog) -> None:
    raw = os.urandom(32)
    keys = Keyring([Kek("k1", raw)])
    sealed = keys.seal(TOKEN, **OWNER)
    secret = keys.open(sealed, **OWNER)
    logging.getLogger("test").warning("values: %s %r %r %r", secret, secret, sealed, keys)
    shown = " ".join([repr(secret), str(secret), repr(sealed), repr(keys), repr(Kek("k1", raw))])
    shown += caplog.text
    assert TOKEN not in shown and f"{secret}" == "Secret('**********')"
    assert base64.b64encode(raw).decode() not in shown and repr(raw) not in shown
    assert sealed.fingerprint in repr(sealed)
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_keks_from_the_environment_or_a_key_file(tmp_path: Path) -> None:
    one, two = new_kek_entry("k1"), new_kek_entry("k0")
    assert Keyring.from_environment({}) is None
    keys = Keyring.from_environment({"CONNECTFLO_KEKS": f"{one}, {two}"})
    assert keys is not None and keys.sealing_kid == "k1" and keys.kids == ["k1", "k0"]
    path = tmp_path / "keks"
    path.write_text(f"# rotated 2026-12-01\n{two}\n{one}  # the old one\n")
    from_file = Keyring.from_environment({"CONNECTFLO_KEK_FILE": str(path)})
    assert from_file is not None and from_file.kids == ["k0", "k1"]
    # a value sealed with one keyring opens with the other (the same keys)
    assert from_file.open(keys.seal(TOKEN, **OWNER), **OWNER).reveal() == TOKEN


@pytest.mark.parametrize(
    "text",
    [
        "",
        "k1",
        "k1:not-base64!",
        "k1:" + base64.b64encode(b"short").decode(),
        "bad id:" + base64.b64encode(bytes(32)).decode(),
        f"{new_kek_entry('k1')},{new_kek_entry('k1')}",
    ],
)
def test_malformed_kek_configuration_is_refused(text) -> None:
    with pytest.raises(KeyringError) as refused:
        Keyring.parse(text)
    if ":" in text:
        assert text.split(":", 1)[1][:8] not in str(refused.value)


def test_a_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyringError):
        Keyring.from_environment({"CONNECTFLO_KEK_FILE": str(tmp_path / "nope")})


def test_the_development_key_file_is_made_once_and_private(tmp_path: Path, capsys) -> None:
    path = tmp_path / ".run" / "dev-keks"
    assert main(["dev-key-file", str(path)]) == 0
    assert capsys.readouterr().out.strip() == str(path)
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    dev_key_file(path)
    assert path.read_text() == first
    keys = Keyring.from_environment({"CONNECTFLO_KEK_FILE": str(path)})
    assert keys is not None and keys.sealing_kid == "dev1"
