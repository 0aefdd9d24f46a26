"""The tenants' outbound webhook endpoints, decided without I/O: ids, signing secrets, which
URLs may be registered, and the ping event (docs/architecture.md, *Tenant webhooks*).

A URL is ``http`` or ``https`` with a host, no credentials (``user:password@``: they would be
stored and shown in clear) and no fragment (never sent). With the SSRF guard on (production),
``localhost`` and IP addresses that are not public are refused too; a host name that resolves
to one is refused by the notifier when it sends."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from contracts.webhooks import PING, WebhookEvent

MAX_URL = 2000
# A host name or an IPv4 address, a port (1-65535), then printable ASCII without a fragment:
# classes that mean the same in Python's and in JSON Schema's (ECMA) regular expressions (`\s`
# does not: Python's takes U+0085, ECMA's not). An IPv6 literal is not taken.
PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
URL_PATTERN = rf"^https?://[A-Za-z0-9.-]{{1,253}}(:{PORT})?([/?][!-\"$-~]*)?$"


class BadUrl(ValueError):
    """Why a URL cannot be an endpoint (answered 422 naming ``body.url``)."""


def new_endpoint_id() -> str:
    return "whk_" + secrets.token_hex(12)


def new_secret() -> str:
    """32 random bytes, as the tenant sees (and uses) them: the HMAC key of the signatures."""
    return "whsec_" + secrets.token_hex(32)


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL as given, or BadUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when out of range or not a number
    except ValueError as exc:
        raise BadUrl(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BadUrl("must be http:// or https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise BadUrl("must not hold credentials (user:password@): sign requests with the secret")
    if parts.fragment or "#" in url:
        raise BadUrl("must not have a fragment (#...)")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BadUrl("must name a host")
    if port == 0:
        raise BadUrl("port 0 is not one to send to")
    if not allow_private and _private(host):
        raise BadUrl(f"{host} is not a public address (WEBHOOK_ALLOW_PRIVATE_URLS allows it)")
    return url


def _private(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a name: the notifier checks what it resolves to


def ping_event(tenant_id: str, endpoint_id: str, now: datetime) -> WebhookEvent:
    return WebhookEvent(
        id="evt_" + secrets.token_hex(12),
        type=PING,
        created_at=now,
        tenant_id=tenant_id,
        data={"endpoint_id": endpoint_id, "message": "a test event from ConnectFlo"},
    )


def ping_delivery(endpoint: dict[str, Any], event: WebhookEvent, now: datetime) -> dict[str, Any]:
    """The ping as a pending delivery (the notifier's ``webhook_deliveries``: the same shape as
    its own, notifier.domain.webhooks.delivery_document), due at once."""
    key = f"{endpoint['_id']}:{event.id}"
    return {
        "_id": "whd_" + hashlib.sha256(key.encode()).hexdigest()[:24],
        "tenant_id": endpoint["tenant_id"],
        "endpoint_id": endpoint["_id"],
        "event_id": event.id,
        "event_type": event.type,
        "body": json.dumps(
            event.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False
        ),
        "status": "pending",
        "attempts": 0,
        "attempt_log": [],
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
