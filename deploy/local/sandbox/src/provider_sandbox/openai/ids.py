"""Identifiers shaped like OpenAI's: a prefix and random letters and digits."""

from __future__ import annotations

import secrets
import string

ALPHANUMERIC = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 29, alphabet: str = ALPHANUMERIC) -> str:
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def request_id() -> str:
    return new_id("req_", 32, "0123456789abcdef")
