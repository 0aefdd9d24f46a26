"""Timestamped HMAC-SHA256 signatures of a request body (Stripe's scheme), one implementation
for whoever signs and whoever checks: the chat widget's messages (the gateway checks them) and
the tenants' outbound webhooks (the notifier signs them, the tenant checks them).

The header is ``t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>." + raw body)>``; a checker
accepts several ``v1`` (a key being rotated) and a timestamp within a window of its clock.
The key is the UTF-8 bytes of the secret's text, as handed out. Pure: the clock comes in."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

MAX_HEADER = 1000


class BadSignature(Exception):
    """The body is not signed, or not with this key, or not recently. The message names what
    is wrong, never a key."""


def signature(key: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` of ``body`` signed with ``key`` at ``timestamp``."""
    return hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(keys: str | Iterable[str], timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<hex>``, one ``v1`` per key (in the order given)."""
    given = [keys] if isinstance(keys, str) else list(keys)
    return ",".join([f"t={timestamp}", *(f"v1={signature(k, timestamp, body)}" for k in given)])


def check_signature(
    key: str, header: str | None, body: bytes, now: float, *, window_seconds: int
) -> None:
    """BadSignature unless ``header`` signs ``body`` with ``key`` at a time within
    ``window_seconds`` of ``now``, either way."""
    if not header:
        raise BadSignature("not signed (t=<unix seconds>,v1=<hex>)")
    if len(header) > MAX_HEADER:
        raise BadSignature("the signature header is too long")
    timestamp: int | None = None
    given: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            given.append(value)
    if timestamp is None or not given:
        raise BadSignature("the signature header is not t=<unix seconds>,v1=<hex>")
    if abs(now - timestamp) > window_seconds:
        raise BadSignature(f"the signature's timestamp is more than {window_seconds} s from now")
    expected = signature(key, timestamp, body).encode()
    if not any(hmac.compare_digest(expected, v.encode("utf-8")) for v in given):
        raise BadSignature("the signature does not match the body")
