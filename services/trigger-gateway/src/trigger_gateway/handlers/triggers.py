"""What a trigger did (read-only, tenant-scoped): the executions it started, the waiting
executions it resumed, the busy runs it was queued for or interrupted (routing policies), and
every active workflow of its type it did not start, with the reason
(the filter of the workflow's trigger node: channel, number, store, intent, confidence, score,
policy)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, status

from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.executions import summary
from trigger_gateway.handlers.problems import TENANT_ERRORS, ApiProblem, problem_responses

router = APIRouter(
    prefix="/v1/triggers", tags=["triggers"], responses=problem_responses(*TENANT_ERRORS)
)
MAX_EXECUTIONS = 100  # a trigger starts one execution per active workflow of its type


@router.get("/{trigger_id}", responses=problem_responses(404))
async def get_trigger(trigger_id: str, tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    """404 until the executor has handled the trigger (or for another tenant's)."""
    outcome, executions = await asyncio.gather(
        gw.executions.trigger_outcome(tenant, trigger_id),
        gw.executions.find(tenant, trigger_id=trigger_id, workflow_id=None, limit=MAX_EXECUTIONS),
    )
    if outcome is None and not executions:
        raise ApiProblem(
            status.HTTP_404_NOT_FOUND,
            f"no trigger {trigger_id} handled: unknown, or not handled yet (retry shortly)",
        )
    first = outcome or executions[0]
    return {
        "trigger_id": trigger_id,
        "trigger_type": first.get("trigger_type"),
        "executions": [summary(d) for d in executions],
        "resumed": (outcome or {}).get("resumed", []),
        "queued": (outcome or {}).get("queued", []),
        "interrupted": (outcome or {}).get("interrupted", []),
        "not_started": (outcome or {}).get("not_started", []),
    }
