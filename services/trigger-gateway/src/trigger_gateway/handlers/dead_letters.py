"""Dead letters: messages a consumer gave up on, with the error and where they came from.

A tenant sees the dead letters of its own messages (the tenant travels in the original
envelope's headers); the operator (`X-Admin-Token`) sees every tenant's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from trigger_gateway.handlers.deps import CallerDep, GatewayDep
from trigger_gateway.handlers.paging import DeadLettersCursor, Limit, page_of, position
from trigger_gateway.handlers.problems import TENANT_ERRORS, problem_responses

router = APIRouter(
    prefix="/v1/dead-letters", tags=["dead letters"], responses=problem_responses(*TENANT_ERRORS)
)


@router.get("")
async def list_dead_letters(
    caller: CallerDep,
    gw: GatewayDep,
    consumer: str | None = None,
    topic: str | None = None,
    limit: Limit = 50,
    cursor: DeadLettersCursor = None,
) -> dict[str, Any]:
    """Newest first; filter by the consumer that gave up and the original topic."""
    after = position("dead-letters", cursor, 2)
    docs = await gw.dead_letters.page(
        tenant_id=caller.tenant_id, consumer=consumer, topic=topic, limit=limit + 1, after=after
    )
    items, next_cursor = page_of("dead-letters", docs, limit, lambda d: (d["failed_at"], d["_id"]))
    return {
        "dead_letters": [
            {"id": d["_id"], **{k: v for k, v in d.items() if k != "_id"}} for d in items
        ],
        "next_cursor": next_cursor,
    }
