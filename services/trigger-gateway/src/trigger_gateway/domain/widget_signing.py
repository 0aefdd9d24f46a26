"""The chat widget's keys, tokens and signatures, so that a tenant's secret never reaches a
browser (docs/architecture.md, *The chat widget*). Pure: the clock comes in as ``now``.

Every key is used as the UTF-8 bytes of the text handed out, and every MAC is HMAC-SHA256:

- **identity** (optional, Intercom's identity verification): the tenant's backend computes
  ``hex(HMAC(secret, external_id))`` and the page passes it as ``user_hash``.
- **visitor token**: an anonymous visitor's proof of its visitor id, kept by the browser to
  come back to its conversation: ``b64url(HMAC(secret, "visitor" NUL widget NUL visitor))``.
- **session** (its id is a token, signed, not stored): ``ws1.<b64url(JSON)>.<b64url(MAC)>``
  naming widget, visitor, conversation, customer and expiry.
- **session key**, given to the browser with the session: ``b64url(HMAC(secret, "session-key"
  NUL session id))``; the gateway derives it again from the session id for every message.
- **message signature** (Stripe's scheme, ``servicekit.signing``): header ``t=<unix
  seconds>,v1=<hex MAC>``, the MAC of ``"<t>." + raw body`` under the session key (the
  browser) or the secret itself (the tenant's backend), accepted within ``WINDOW_SECONDS`` of
  the gateway's clock.
- **stream token**: ``st1.<b64url(JSON)>.<b64url(MAC)>``, the right to read one conversation's
  replies for a few minutes, in the query string (EventSource sends no headers).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from servicekit import signing

from trigger_gateway.domain.conversation_keys import conversation_id_for

WINDOW_SECONDS = 300
"""How far a message's timestamp may be from the gateway's clock, either way."""
SESSION_SECONDS = 12 * 3600
STREAM_TOKEN_SECONDS = 300
CHANNEL = "chat"
SESSION_PREFIX = "ws1."
STREAM_PREFIX = "st1."


class Refused(Exception):
    """Not signed, or not by who it claims (answered 403, nothing published). The message
    names what is wrong, never a key."""


def new_widget_key() -> str:
    return "wk_" + secrets.token_hex(12)


def new_secret() -> str:
    """32 random bytes, as the tenant sees (and uses) them."""
    return "wsk_" + secrets.token_hex(32)


def new_visitor_id() -> str:
    return "vis_" + secrets.token_hex(12)


def _mac(key: str, *parts: str) -> bytes:
    return hmac.new(key.encode(), "\x00".join(parts).encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def identity_hash(secret: str, external_id: str) -> str:
    """What the tenant's backend computes for a signed-in user (hex)."""
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def identity_verified(secret: str, external_id: str, user_hash: str) -> bool:
    return hmac.compare_digest(
        identity_hash(secret, external_id).encode(), user_hash.lower().encode("utf-8")
    )


def visitor_token(secret: str, widget_key: str, visitor_id: str) -> str:
    return _b64(_mac(secret, "visitor", widget_key, visitor_id))


def visitor_verified(secret: str, widget_key: str, visitor_id: str, token: str) -> bool:
    expected = visitor_token(secret, widget_key, visitor_id).encode()
    return hmac.compare_digest(expected, token.encode("utf-8"))


@dataclass(frozen=True)
class Session:
    """A visitor's session, as its signed id says."""

    widget_key: str
    visitor_id: str
    conversation_id: str
    customer: dict[str, Any]
    verified: bool
    expires_at: int


def conversation_of(tenant_id: str, widget_key: str, visitor_id: str) -> str:
    """One conversation per visitor of a widget (domain/conversation_keys.py)."""
    return conversation_id_for(tenant_id, CHANNEL, visitor_id, widget_key)


def _signed(prefix: str, purpose: str, secret: str, claims: dict[str, Any]) -> str:
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{prefix}{payload}.{_b64(_mac(secret, purpose, payload))}"


def _claims(prefix: str, purpose: str, secret: str, token: str, now: float) -> dict[str, Any]:
    """The claims of a token this secret signed and that has not expired; else Refused."""
    if not token.startswith(prefix) or token.count(".") != 2:
        raise Refused(f"not a {purpose} token")
    payload, _, mac = token[len(prefix) :].partition(".")
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise Refused(f"not a {purpose} token") from None
    if not hmac.compare_digest(given, _mac(secret, purpose, payload)):
        raise Refused(f"the {purpose} token is not signed by this widget")
    claims: dict[str, Any] = json.loads(_unb64(payload))
    if claims["exp"] <= now:
        raise Refused(f"the {purpose} token has expired: start a new one")
    return claims


def issue_session(
    secret: str,
    *,
    tenant_id: str,
    widget_key: str,
    visitor_id: str,
    customer: dict[str, Any],
    verified: bool,
    now: float,
) -> tuple[str, Session]:
    """A new session's id (a signed token) and what it says."""
    session = Session(
        widget_key=widget_key,
        visitor_id=visitor_id,
        conversation_id=conversation_of(tenant_id, widget_key, visitor_id),
        customer=customer,
        verified=verified,
        expires_at=int(now) + SESSION_SECONDS,
    )
    claims = {
        "w": widget_key,
        "v": visitor_id,
        "c": session.conversation_id,
        "u": customer,
        "vf": verified,
        "exp": session.expires_at,
        "n": secrets.token_hex(8),  # two sessions of one visitor have two keys
    }
    return _signed(SESSION_PREFIX, "session", secret, claims), session


def read_session(secret: str, widget_key: str, session_id: str, now: float) -> Session:
    claims = _claims(SESSION_PREFIX, "session", secret, session_id, now)
    if claims["w"] != widget_key:
        raise Refused("the session is another widget's")
    return Session(
        widget_key=claims["w"],
        visitor_id=claims["v"],
        conversation_id=claims["c"],
        customer=claims["u"],
        verified=claims["vf"],
        expires_at=claims["exp"],
    )


def session_key(secret: str, session_id: str) -> str:
    return _b64(_mac(secret, "session-key", session_id))


def stream_token(secret: str, widget_key: str, conversation_id: str, now: float) -> str:
    claims = {"w": widget_key, "c": conversation_id, "exp": int(now) + STREAM_TOKEN_SECONDS}
    return _signed(STREAM_PREFIX, "stream", secret, claims)


def check_stream_token(
    secret: str, widget_key: str, conversation_id: str, token: str, now: float
) -> None:
    claims = _claims(STREAM_PREFIX, "stream", secret, token, now)
    if claims["w"] != widget_key or claims["c"] != conversation_id:
        raise Refused("the stream token is for another conversation")


def signature(key: str, timestamp: int, body: bytes) -> str:
    """The ``v1`` of a message signed with ``key`` at ``timestamp``."""
    return signing.signature(key, timestamp, body)


def signature_header(key: str, timestamp: int, body: bytes) -> str:
    return signing.signature_header(key, timestamp, body)


def check_signature(key: str, header: str | None, body: bytes, now: float) -> None:
    """Refused unless ``header`` (``t=...,v1=...``; several v1 allowed) signs ``body`` with
    ``key`` at a time within the window (servicekit.signing: the tenants' webhooks are signed
    the same way)."""
    if not header:
        raise Refused("the message is not signed (X-Widget-Signature: t=...,v1=...)")
    try:
        signing.check_signature(key, header, body, now, window_seconds=WINDOW_SECONDS)
    except signing.BadSignature as exc:
        raise Refused(str(exc)) from None
