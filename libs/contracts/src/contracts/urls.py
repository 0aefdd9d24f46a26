"""The one rule for a URL a tenant gives us to call: http(s), a host, no credentials in it, no
query string or fragment (a secret in a URL would be stored and shown in the clear)."""

from __future__ import annotations

from urllib.parse import urlsplit


def plain_http_url(value: str) -> str:
    """``value`` without surrounding blanks or a trailing slash; ValueError when it breaks the
    rule (pydantic turns it into a field error)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials (user or password)")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query string or fragment")
    return value.strip().rstrip("/")
