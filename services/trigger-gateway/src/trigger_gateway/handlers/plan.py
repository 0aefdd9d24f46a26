"""`GET /v1/plan`: the API key's tenant's plan, what it allows and how much of it is used."""

from __future__ import annotations

from contracts.ai import Plan, PlanLimits, plan_limits
from fastapi import APIRouter
from pydantic import BaseModel, Field

from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import TENANT_ERRORS, problem_responses
from trigger_gateway.handlers.resource_state import ResourcesDep

router = APIRouter(prefix="/v1/plan", tags=["tenants"], responses=problem_responses(*TENANT_ERRORS))


class Usage(BaseModel):
    documents: int
    ai_configs: int
    intents: int = Field(description="In the classification settings.")


class PlanView(BaseModel):
    plan: Plan
    limits: PlanLimits
    usage: Usage


@router.get("")
async def get_plan(tenant: TenantDep, gw: GatewayDep, res: ResourcesDep) -> PlanView:
    """The plan (an operator changes it: `PATCH /v1/tenants/{id}`), its limits and what the
    tenant has of each. The per-workflow limits are counted per workflow
    (`GET /v1/workflow-resources/{id}`)."""
    plan = await gw.tenants.plan_of(tenant)
    settings = await res.classification.get(tenant)
    return PlanView(
        plan=plan,
        limits=plan_limits(plan),
        usage=Usage(
            documents=await res.documents.count(tenant),
            ai_configs=await res.ai_configs.count(tenant),
            intents=len((settings or {}).get("intents") or []),
        ),
    )
