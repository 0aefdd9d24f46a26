"""Secrets sealed at rest: envelope encryption with AES-GCM (the ``cryptography`` package).

Every secret gets a random 256-bit data key; the value is encrypted with it (AES-256-GCM,
a random 96-bit nonce), with associated data naming its owner (tenant and purpose), so a
sealed value copied into another tenant's record, or used for another purpose, does not open.
The data key is wrapped (AES-256-GCM again) by a key-encryption key (KEK) that has a key id;
what is stored (``Sealed``) is the key id, the wrapped data key, the nonce, the ciphertext and
a fingerprint, never the value or a key.

KEKs come from the environment, never from code:

- ``CONNECTFLO_KEKS="kid1:<base64 of 32 bytes>,kid0:<...>"``, or
- ``CONNECTFLO_KEK_FILE=/path/to/file`` holding the same (commas or one a line, ``#`` comments).

The first KEK seals; every KEK listed opens. To rotate: put a new KEK first, keep the old ones
until ``Keyring.rewrap`` has moved every sealed value to the new one (only the data key is
re-wrapped; the value's ciphertext stays as it is), then drop them.

A secret is shown by its fingerprint only: the first 8 hex digits of an HMAC-SHA256 of the
value (and its owner) under a key derived from the sealing KEK, fixed when it was sealed, so
an unchanged secret shows an unchanged fingerprint and a short hash of a weak password cannot
be checked against guesses by whoever reads it. ``Secret`` in memory has no readable repr.

    python -m servicekit.sealing new-kek KID         # a fresh KEK line for CONNECTFLO_KEKS
    python -m servicekit.sealing dev-key-file PATH   # create PATH (0600) once; prints PATH
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

KEKS_VARIABLE = "CONNECTFLO_KEKS"
KEK_FILE_VARIABLE = "CONNECTFLO_KEK_FILE"
FORMAT_VERSION = 1
_NONCE_BYTES = 12
_KEY_BYTES = 32
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class SealingError(Exception):
    """A sealed secret cannot be made or opened. The message never holds a secret."""


class KeyringError(SealingError):
    """The KEK configuration is missing or malformed."""


class UnknownKey(SealingError):
    """The value was sealed under a KEK that is not configured (any more)."""


class CannotOpen(SealingError):
    """The sealed value was altered, is malformed, or belongs to another owner or purpose."""


class Secret:
    """A secret value in memory. Its repr and str hide it; ``reveal()`` is the one way to it,
    so a secret reaches a log line or an exception only where code asks for it by name."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(Secret)  # equal secrets must hash alike; the value's hash is not exposed

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled")


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed secret as stored: ``to_document()`` / ``from_document()`` (base64 text fields,
    which any MongoDB-wire server stores as they are)."""

    kid: str
    wrapped_key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    fingerprint: str
    sealed_at: datetime

    def to_document(self) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION,
            "kid": self.kid,
            "key": _b64(self.wrapped_key),
            "nonce": _b64(self.nonce),
            "ct": _b64(self.ciphertext),
            "fp": self.fingerprint,
            "sealed_at": self.sealed_at,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Sealed:
        """CannotOpen when ``doc`` is not a sealed secret of a version this code reads."""
        try:
            if doc["v"] != FORMAT_VERSION:
                raise CannotOpen(f"sealed secret of unknown format version {doc['v']!r}")
            sealed_at = doc["sealed_at"]
            if not isinstance(sealed_at, datetime):
                raise TypeError("sealed_at")
            return cls(
                kid=str(doc["kid"]),
                wrapped_key=_unb64(doc["key"]),
                nonce=_unb64(doc["nonce"]),
                ciphertext=_unb64(doc["ct"]),
                fingerprint=str(doc["fp"]),
                sealed_at=sealed_at,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CannotOpen(f"malformed sealed secret ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True, slots=True)
class Kek:
    """A key-encryption key and its id (the key is never in its repr)."""

    kid: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _KID.match(self.kid):
            raise KeyringError(f"KEK id {self.kid!r} is not 1-64 of [A-Za-z0-9._-]")
        if len(self.key) != _KEY_BYTES:
            raise KeyringError(f"KEK {self.kid!r} is {len(self.key)} bytes, not {_KEY_BYTES}")


class Keyring:
    """The configured KEKs: the first seals, any opens."""

    def __init__(self, keks: Sequence[Kek]) -> None:
        if not keks:
            raise KeyringError("no KEK configured")
        kids = [k.kid for k in keks]
        if len(set(kids)) != len(kids):
            raise KeyringError(f"KEK ids repeat: {kids}")
        self._keks = {k.kid: k for k in keks}
        self._sealing = keks[0]
        self._fingerprint_keys: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"Keyring(sealing={self._sealing.kid!r}, kids={list(self._keks)!r})"

    @property
    def sealing_kid(self) -> str:
        return self._sealing.kid

    @property
    def kids(self) -> list[str]:
        return list(self._keks)

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """``kid:<base64 key>`` entries separated by commas or lines; ``#`` starts a comment."""
        keks = []
        for number, line in enumerate(text.splitlines(), 1):
            for entry in line.split("#", 1)[0].split(","):
                entry = entry.strip()
                if not entry:
                    continue
                kid, colon, encoded = entry.partition(":")
                if not colon:  # not quoted: it may be a bare key
                    raise KeyringError(f"a KEK entry on line {number} is not kid:<base64 key>")
                standard = encoded.strip().replace("-", "+").replace("_", "/")
                try:
                    key = base64.b64decode(_padded(standard), validate=True)
                except binascii.Error:
                    raise KeyringError(f"KEK {kid.strip()!r} is not base64") from None
                keks.append(Kek(kid.strip(), key))
        return cls(keks)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Keyring | None:
        """The KEKs of ``CONNECTFLO_KEKS``, else of the file ``CONNECTFLO_KEK_FILE`` names;
        None when neither is set. KeyringError when what is set is malformed or unreadable."""
        env = os.environ if environ is None else environ
        if env.get(KEKS_VARIABLE, "").strip():
            return cls.parse(env[KEKS_VARIABLE])
        path = env.get(KEK_FILE_VARIABLE, "").strip()
        if not path:
            return None
        try:
            text = Path(path).read_text()
            mode = Path(path).stat().st_mode
        except OSError as exc:
            raise KeyringError(f"{KEK_FILE_VARIABLE}={path}: {exc.strerror}") from None
        if mode & 0o077:
            log.warning("%s=%s is readable by others (mode %o)", KEK_FILE_VARIABLE, path, mode)
        return cls.parse(text)

    def seal(self, value: str | Secret, *, tenant_id: str, purpose: str) -> Sealed:
        """``value`` sealed under the current KEK for this owner and purpose."""
        plain = (value.reveal() if isinstance(value, Secret) else value).encode("utf-8")
        owner = _owner(tenant_id, purpose)
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return Sealed(
            kid=self._sealing.kid,
            wrapped_key=self._wrap(self._sealing, data_key),
            nonce=nonce,
            ciphertext=AESGCM(data_key).encrypt(nonce, plain, owner),
            fingerprint=self._fingerprint(owner, plain),
            sealed_at=_milliseconds(datetime.now(UTC)),
        )

    def open(self, sealed: Sealed, *, tenant_id: str, purpose: str) -> Secret:
        """The value; UnknownKey or CannotOpen (altered, or another owner's or purpose's)."""
        data_key = self._unwrap(sealed)
        try:
            plain = AESGCM(data_key).decrypt(
                sealed.nonce, sealed.ciphertext, _owner(tenant_id, purpose)
            )
        except (InvalidTag, ValueError):
            raise CannotOpen(
                f"sealed secret (fingerprint {sealed.fingerprint}) does not open for tenant "
                f"{tenant_id!r} and purpose {purpose!r}: altered, or sealed for another"
            ) from None
        return Secret(plain.decode("utf-8"))

    def needs_rewrap(self, sealed: Sealed) -> bool:
        return sealed.kid != self._sealing.kid

    def rewrap(self, sealed: Sealed) -> Sealed:
        """The same secret with its data key wrapped by the current KEK (the value's ciphertext
        and fingerprint unchanged); ``sealed`` itself when it is current already."""
        if not self.needs_rewrap(sealed):
            return sealed
        data_key = self._unwrap(sealed)
        return Sealed(
            kid=self._sealing.kid,
            wrapped_key=self._wrap(self._sealing, data_key),
            nonce=sealed.nonce,
            ciphertext=sealed.ciphertext,
            fingerprint=sealed.fingerprint,
            sealed_at=sealed.sealed_at,
        )

    def _wrap(self, kek: Kek, data_key: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + AESGCM(kek.key).encrypt(nonce, data_key, _wrapping(kek.kid))

    def _unwrap(self, sealed: Sealed) -> bytes:
        kek = self._keks.get(sealed.kid)
        if kek is None:
            raise UnknownKey(
                f"sealed secret (fingerprint {sealed.fingerprint}) is under KEK {sealed.kid!r}, "
                f"which is not configured (configured: {', '.join(self._keks)})"
            )
        nonce, wrapped = sealed.wrapped_key[:_NONCE_BYTES], sealed.wrapped_key[_NONCE_BYTES:]
        try:
            return AESGCM(kek.key).decrypt(nonce, wrapped, _wrapping(kek.kid))
        except (InvalidTag, ValueError):
            raise CannotOpen(
                f"the data key of sealed secret (fingerprint {sealed.fingerprint}) does not "
                f"unwrap with KEK {kek.kid!r}: altered"
            ) from None

    def _fingerprint(self, owner: bytes, plain: bytes) -> str:
        key = self._fingerprint_keys.get(self._sealing.kid)
        if key is None:
            hkdf = HKDF(hashes.SHA256(), _KEY_BYTES, salt=None, info=b"connectflo fingerprint v1")
            key = self._fingerprint_keys[self._sealing.kid] = hkdf.derive(self._sealing.key)
        return hmac.new(key, owner + b"\x00" + plain, hashlib.sha256).hexdigest()[:8]


def _milliseconds(moment: datetime) -> datetime:
    """As BSON keeps a date: a stored Sealed reads back equal."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _owner(tenant_id: str, purpose: str) -> bytes:
    """The associated data of a value: unambiguous whatever the names hold."""
    return json.dumps(["connectflo.sealed.v1", tenant_id, purpose]).encode()


def _wrapping(kid: str) -> bytes:
    return json.dumps(["connectflo.data-key.v1", kid]).encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError("not base64 text")
    return base64.b64decode(text, validate=True)


def _padded(encoded: str) -> str:
    return encoded + "=" * (-len(encoded) % 4)


def new_kek_entry(kid: str) -> str:
    """``kid:<base64 of 32 random bytes>``, a line for CONNECTFLO_KEKS or a key file."""
    Kek(kid, bytes(_KEY_BYTES))  # validates the id
    return f"{kid}:{_b64(secrets.token_bytes(_KEY_BYTES))}"


def dev_key_file(path: Path) -> Path:
    """A key file for local development at ``path``, created once (mode 0600) with one fresh
    KEK, left as it is when it exists (what was sealed with it stays readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(descriptor, "w") as file:
        file.write("# local development only: created by servicekit.sealing dev-key-file\n")
        file.write(new_kek_entry("dev1") + "\n")
    return path


def main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "new-kek":
        print(new_kek_entry(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "dev-key-file":
        print(dev_key_file(Path(argv[1])))
        return 0
    print("usage: python -m servicekit.sealing new-kek KID | dev-key-file PATH", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
