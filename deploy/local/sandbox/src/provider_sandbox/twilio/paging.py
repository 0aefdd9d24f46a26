"""The 2010-04-01 API's list envelope: records under the resource's key, with page, page_size,
start, end and the first/next/previous page URIs (PageSize, Page and a PageToken)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        number = default
    return min(max(number, low), high)


def page_of(
    records: Sequence[dict[str, Any]],
    *,
    key: str,
    path: str,
    query: Mapping[str, str],
    filters: Mapping[str, str],
) -> dict[str, Any]:
    """One page of `records` (already filtered and ordered) for the request's query string;
    `filters` are the request's filter parameters, repeated in every page URI."""
    size = _int(query.get("PageSize"), DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = _int(query.get("Page"), 0, 0, 1_000_000)
    start = page * size
    chunk = list(records[start : start + size])

    def uri(number: int) -> str:
        params = {**filters, "PageSize": str(size), "Page": str(number)}
        if number > 0:
            params["PageToken"] = f"PASB{number * size}"
        return f"{path}?{urlencode(params)}"

    return {
        key: chunk,
        "end": start + len(chunk) - 1 if chunk else start,
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if start + size < len(records) else None,
        "page": page,
        "page_size": size,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": uri(page),
    }
