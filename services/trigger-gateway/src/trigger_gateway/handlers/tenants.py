"""Tenant administration: create a tenant and its first API key (admin token required)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, status
from pydantic import BaseModel, Field

from trigger_gateway.domain.api_keys import digest, new_api_key
from trigger_gateway.handlers.deps import GatewayDep

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])


class CreateTenant(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class TenantCreated(BaseModel):
    tenant_id: str
    name: str
    api_key: str = Field(description="Shown once; only its digest is stored.")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_tenant(
    body: CreateTenant, gw: GatewayDep, x_admin_token: Annotated[str | None, Header()] = None
) -> TenantCreated:
    if not x_admin_token or not secrets.compare_digest(x_admin_token, gw.settings.admin_token):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong X-Admin-Token")
    tenant_id = "ten_" + secrets.token_hex(8)
    api_key = new_api_key()
    await gw.tenants.create(tenant_id, body.name, digest(api_key))
    return TenantCreated(tenant_id=tenant_id, name=body.name, api_key=api_key)
