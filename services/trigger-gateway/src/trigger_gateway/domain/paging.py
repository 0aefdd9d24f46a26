"""Opaque cursors for keyset paging: the sort key of the last item of a page, so the next page
starts right after it however many items were added meanwhile (no skip/offset scans)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

CursorKey = str | int | datetime | None


class InvalidCursor(ValueError):
    """A cursor that this API did not hand out (or that belongs to another listing)."""


def encode_cursor(kind: str, *key: CursorKey) -> str:
    """An opaque cursor for the position ``key`` in the listing ``kind``."""
    parts = [{"t": k.isoformat()} if isinstance(k, datetime) else k for k in key]
    text = json.dumps([kind, *parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str, arity: int) -> tuple[CursorKey, ...]:
    """The position a cursor of ``kind`` names; InvalidCursor when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("cursor is not one this API handed out") from None
    if not isinstance(parts, list) or len(parts) != arity + 1 or parts[0] != kind:
        raise InvalidCursor("cursor is not one this API handed out for this listing")
    return tuple(_decoded(p) for p in parts[1:])


def _decoded(part: Any) -> CursorKey:
    if isinstance(part, dict) and set(part) == {"t"} and isinstance(part["t"], str):
        try:
            return datetime.fromisoformat(part["t"])
        except ValueError:
            raise InvalidCursor("cursor holds an invalid time") from None
    if part is None:
        return part
    # what a cursor holds goes into a MongoDB query: only text and 64-bit integers it can hold
    if isinstance(part, str) and part.isprintable():
        return part
    if isinstance(part, int) and not isinstance(part, bool) and -(2**63) <= part < 2**63:
        return part
    raise InvalidCursor("cursor is not one this API handed out")
