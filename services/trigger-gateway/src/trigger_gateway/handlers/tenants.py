"""Tenant administration: create a tenant and its first API key (admin token required)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from trigger_gateway.domain.api_keys import digest, new_api_key
from trigger_gateway.handlers.deps import AdminDep, GatewayDep
from trigger_gateway.handlers.problems import TENANT_ERRORS, WITH_BODY, problem_responses

router = APIRouter(
    prefix="/v1/tenants", tags=["tenants"], responses=problem_responses(*TENANT_ERRORS, *WITH_BODY)
)


class CreateTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class TenantCreated(BaseModel):
    tenant_id: str
    name: str
    api_key: str = Field(description="Shown once; only its digest is stored.")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_tenant(body: CreateTenant, gw: GatewayDep, _admin: AdminDep) -> TenantCreated:
    tenant_id = "ten_" + secrets.token_hex(8)
    api_key = new_api_key()
    await gw.tenants.create(tenant_id, body.name, digest(api_key))
    return TenantCreated(tenant_id=tenant_id, name=body.name, api_key=api_key)
