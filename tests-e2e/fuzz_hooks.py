"""schemathesis hooks of `make fuzz`: cursors of the shape each listing hands out.

A cursor is opaque to a client: any string that this API did not hand out is answered 422.
The OpenAPI document names each listing's cursor format (`workflows-cursor`, ...), and these
strategies make well-formed ones (the listing's name and its sort key, base64url JSON), so
the fuzzer pages from arbitrary positions instead of only being refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import schemathesis
from hypothesis import strategies as st

_TEXT = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=30)
_TIME = st.datetimes().map(lambda moment: {"t": moment.isoformat()})
_SEQ = st.integers(min_value=0, max_value=2**63 - 1)
_KEYS: dict[str, list[st.SearchStrategy[Any]]] = {
    "workflows": [_TIME, _TEXT],
    "executions": [_TIME, _TEXT],
    "dead-letters": [_TIME, _TEXT],
    "conversations": [_TIME, _TEXT],
    "messages": [_TIME, _TEXT],
    "contacts": [_TIME, _TEXT],
    "documents": [_TIME, _TEXT],
    "chunks": [_SEQ],
    "webhook-deliveries": [_TIME, _TEXT],
    "versions": [_SEQ],
    "nodes": [_SEQ],
}


def _encoded(parts: list[Any]) -> str:
    text = json.dumps(parts, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


for kind, keys in _KEYS.items():
    schemathesis.openapi.format(
        f"{kind}-cursor",
        st.tuples(st.just(kind), *keys).map(lambda parts: _encoded(list(parts))),
    )
