"""Keyset paging in MongoDB: newest first by a time field, ties broken by `_id`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING

Document = dict[str, Any]


def newest_first(field: str) -> list[tuple[str, int]]:
    """The sort every time-ordered listing uses (an index holds the same keys)."""
    return [(field, DESCENDING), ("_id", DESCENDING)]


def older_than(field: str, at: datetime, doc_id: str) -> Document:
    """Everything after (`at`, `doc_id`) in `newest_first(field)` order."""
    return {"$or": [{field: {"$lt": at}}, {field: at, "_id": {"$lt": doc_id}}]}
