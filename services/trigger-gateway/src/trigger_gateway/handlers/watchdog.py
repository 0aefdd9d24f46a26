"""What the watchdog found (tenant-scoped, read-only): executions that made no progress they
should have, the reason, and what was done (`resend`: their start or requests sent again;
`fail`: ended with an incident naming the reason). docs/architecture.md, *The watchdog*."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from trigger_gateway.adapters.watchdog_findings import WatchdogFindingRepository
from trigger_gateway.handlers.deps import TenantDep
from trigger_gateway.handlers.paging import Limit
from trigger_gateway.handlers.problems import TENANT_ERRORS, problem_responses

router = APIRouter(
    prefix="/v1/watchdog", tags=["watchdog"], responses=problem_responses(*TENANT_ERRORS)
)


async def findings_of(request: Request) -> WatchdogFindingRepository:
    repository: WatchdogFindingRepository = request.app.state.watchdog_findings
    return repository


FindingsDep = Annotated[WatchdogFindingRepository, Depends(findings_of)]


@router.get("/findings")
async def list_findings(
    tenant: TenantDep,
    findings: FindingsDep,
    execution_id: str | None = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Newest first: kind (`not_started`, `no_progress`, `unwakeable`, `overdue`), action,
    reason, and the execution's status and version when found."""
    docs = await findings.latest(tenant, execution_id=execution_id, limit=limit)
    return {
        "findings": [
            {"id": d["_id"], **{k: v for k, v in d.items() if k not in ("_id", "tenant_id")}}
            for d in docs
        ]
    }
