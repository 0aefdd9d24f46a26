"""Tenant administration (admin token required): create a tenant and its first API key, change
its name or plan (contracts.ai.PLANS: what it may have of documents, AI configurations,
intents and workflow resources)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from contracts.ai import DEFAULT_PLAN, PLANS, Plan, PlanLimits, plan_limits
from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from trigger_gateway.domain.api_keys import digest, new_api_key
from trigger_gateway.handlers.deps import AdminDep, GatewayDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/tenants", tags=["tenants"], responses=problem_responses(*TENANT_ERRORS, *WITH_BODY)
)
TenantId = Annotated[str, Path(min_length=1, max_length=100, examples=["ten_0123456789abcdef"])]


class CreateTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    plan: Plan = Field(DEFAULT_PLAN, description="What the tenant may have (GET /v1/plan).")


class TenantCreated(BaseModel):
    tenant_id: str
    name: str
    plan: Plan
    api_key: str = Field(description="Shown once; only its digest is stored.")


class TenantChange(BaseModel):
    """Fields to change; those left out stay."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    plan: Plan | None = None


class TenantView(BaseModel):
    tenant_id: str
    name: str
    plan: Plan
    limits: PlanLimits
    created_at: datetime | None = None
    updated_at: datetime | None = None


def tenant_view(doc: dict[str, Any]) -> TenantView:
    plan = doc.get("plan") if doc.get("plan") in PLANS else DEFAULT_PLAN
    return TenantView(
        tenant_id=doc["_id"],
        name=doc["name"],
        plan=plan,
        limits=plan_limits(plan),
        created_at=doc.get("created_at"),
        updated_at=doc.get("updated_at"),
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_tenant(body: CreateTenant, gw: GatewayDep, _admin: AdminDep) -> TenantCreated:
    tenant_id = "ten_" + secrets.token_hex(8)
    api_key = new_api_key()
    await gw.tenants.create(tenant_id, body.name, digest(api_key), body.plan)
    return TenantCreated(tenant_id=tenant_id, name=body.name, plan=body.plan, api_key=api_key)


@router.patch("/{tenant_id}", responses=problem_responses(404))
async def change_tenant(
    tenant_id: TenantId, body: TenantChange, gw: GatewayDep, _admin: AdminDep
) -> TenantView:
    """Rename the tenant or change its plan. A smaller plan removes nothing: what is over
    its limits stays, and only what would add more is refused."""
    changes = body.model_dump(exclude_none=True)
    doc = (
        await gw.tenants.update(tenant_id, changes) if changes else await gw.tenants.get(tenant_id)
    )
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no tenant {tenant_id}")
    return tenant_view(doc)
