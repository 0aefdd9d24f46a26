"""Cursor paging for every listing: fetch one more than asked to know whether a next page
exists, and hand out the last item's sort key as an opaque cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query, status
from servicekit.problems import INVALID_REQUEST, FieldError

from trigger_gateway.domain.paging import CursorKey, InvalidCursor, decode_cursor, encode_cursor
from trigger_gateway.handlers.problems import ApiProblem

T = TypeVar("T")
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]


def _cursor(kind: str) -> Any:
    """The `cursor` parameter of the listing ``kind``; its format names the listing (the
    fuzzer makes cursors of that shape: tests-e2e/fuzz_hooks.py)."""
    return Query(
        description="`next_cursor` of the previous page; omit for the first.",
        json_schema_extra={"format": f"{kind}-cursor"},
    )


WorkflowsCursor = Annotated[str | None, _cursor("workflows")]
VersionsCursor = Annotated[str | None, _cursor("versions")]
ExecutionsCursor = Annotated[str | None, _cursor("executions")]
NodesCursor = Annotated[str | None, _cursor("nodes")]
DeadLettersCursor = Annotated[str | None, _cursor("dead-letters")]
ConversationsCursor = Annotated[str | None, _cursor("conversations")]
MessagesCursor = Annotated[str | None, _cursor("messages")]
ContactsCursor = Annotated[str | None, _cursor("contacts")]
DeliveriesCursor = Annotated[str | None, _cursor("webhook-deliveries")]
DocumentsCursor = Annotated[str | None, _cursor("documents")]
ChunksCursor = Annotated[str | None, _cursor("chunks")]


def position(kind: str, cursor: str | None, arity: int) -> tuple[Any, ...] | None:
    """Where a page starts; 422 for a cursor that is not one of this listing's."""
    if cursor is None:
        return None
    try:
        return decode_cursor(kind, cursor, arity)
    except InvalidCursor as exc:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"query.cursor: {exc}",
            errors=[FieldError(name="query.cursor", reason=str(exc))],
            type_=INVALID_REQUEST,
        ) from None


def sequence_position(kind: str, cursor: str | None) -> int | None:
    """Where a page of a listing by sequence number starts (after this one)."""
    after = position(kind, cursor, 1)
    if after is None:
        return None
    if not isinstance(after[0], int):
        reason = "cursor is not one this API handed out for this listing"
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"query.cursor: {reason}",
            errors=[FieldError(name="query.cursor", reason=reason)],
            type_=INVALID_REQUEST,
        )
    return after[0]


def page_of(
    kind: str, fetched: Sequence[T], limit: int, key: Callable[[T], tuple[CursorKey, ...]]
) -> tuple[list[T], str | None]:
    """The page (at most `limit` of `fetched`, which was asked for `limit + 1`) and the
    cursor of the next one (None on the last page)."""
    items = list(fetched[:limit])
    if len(fetched) <= limit or not items:
        return items, None
    return items, encode_cursor(kind, *key(items[-1]))
