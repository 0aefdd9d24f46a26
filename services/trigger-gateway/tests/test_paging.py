"""Opaque cursors: what goes in comes out, and nothing else is accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from trigger_gateway.domain.paging import InvalidCursor, decode_cursor, encode_cursor


def test_a_cursor_gives_back_its_position() -> None:
    at = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    cursor = encode_cursor("executions", at, "exe_1")
    assert decode_cursor("executions", cursor, 2) == (at, "exe_1")
    assert "=" not in cursor and "/" not in cursor  # safe in a query string as is


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        encode_cursor("workflows", "x", "y"),  # another listing's
        encode_cursor("executions", "only-one"),  # wrong shape
        encode_cursor("executions", True, "x"),
        "eyJhIjogMX0",  # {"a": 1}
    ],
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor("executions", cursor, 2)
