"""Contacts (tenant-scoped): customer profiles found by phone, email or external id. An
execution whose customer has one of those starts with the profile in `customer`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trigger_gateway.adapters.conversations import AddressTaken
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.paging import ContactsCursor, Limit, page_of, position
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/contacts", tags=["contacts"], responses=problem_responses(*TENANT_ERRORS)
)
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(r"^[^@]+@[^@]+\.[^@]+$")
_FIELDS = (
    "name",
    "email",
    "phone",
    "external_id",
    "attributes",
    "tags",
    "created_at",
    "updated_at",
)


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(
        default=None, max_length=320, pattern=EMAIL.pattern, description="Unique per tenant."
    )
    phone: str | None = Field(
        default=None, pattern=E164.pattern, description="E.164, e.g. +15551234567; unique."
    )
    external_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="Your system's id; unique."
    )
    attributes: dict[str, Any] | None = Field(
        default=None, description="Anything else: `customer.metadata` in a workflow."
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=100
    )

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not E164.match(value):
            raise ValueError("a phone number in E.164 form: + and 7 to 15 digits")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError("an email address")
        return value


class NewContact(_Profile):
    """A customer profile; at least one of phone, email and external id finds it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("phone", "email", "external_id")
            ]
        },
    )


class ContactChange(_Profile):
    """Fields to change; null removes one, fields left out stay."""


def view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: doc.get(k) for k in _FIELDS}}


def _taken(exc: AddressTaken) -> ApiProblem:
    return ApiProblem(status.HTTP_409_CONFLICT, f"another contact has {exc.kind} {exc.address}")


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, *WITH_BODY))
async def create_contact(body: NewContact, tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    """409 when another contact of the tenant has its phone, email or external id."""
    fields = body.model_dump(exclude_none=True)
    if not any(fields.get(k) for k in ("phone", "email", "external_id")):
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "body: a contact needs a phone, an email or an external_id to be found by",
        )
    try:
        return view(await gw.contacts.create(tenant, fields))
    except AddressTaken as exc:
        raise _taken(exc) from None


@router.get("")
async def list_contacts(
    tenant: TenantDep,
    gw: GatewayDep,
    phone: Annotated[str | None, Query(max_length=20)] = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    external_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    cursor: ContactsCursor = None,
) -> dict[str, Any]:
    """Newest first; `phone`, `email` or `external_id` finds the one contact with it."""
    wanted = [
        (k, v) for k, v in (("phone", phone), ("email", email), ("external_id", external_id)) if v
    ]
    if wanted:
        found = [await gw.contacts.find_by(tenant, kind, address) for kind, address in wanted]
        first = found[0]
        match = first is not None and all(d and d["_id"] == first["_id"] for d in found)
        return {"contacts": [view(first)] if first and match else [], "next_cursor": None}
    after = position("contacts", cursor, 2)
    docs = await gw.contacts.page(tenant, limit=limit + 1, after=after)
    items, next_cursor = page_of("contacts", docs, limit, lambda d: (d["created_at"], d["_id"]))
    return {"contacts": [view(d) for d in items], "next_cursor": next_cursor}


@router.get("/{contact_id}", responses=problem_responses(404))
async def get_contact(contact_id: str, tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    doc = await gw.contacts.get(tenant, contact_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}")
    return view(doc)


@router.patch("/{contact_id}", responses=problem_responses(404, 409, *WITH_BODY))
async def change_contact(
    contact_id: str, change: ContactChange, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    changes = change.model_dump(exclude_unset=True)
    try:
        doc = await gw.contacts.update(tenant, contact_id, changes)
    except AddressTaken as exc:
        raise _taken(exc) from None
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}")
    return view(doc)


@router.delete(
    "/{contact_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_contact(contact_id: str, tenant: TenantDep, gw: GatewayDep) -> Response:
    if not await gw.contacts.delete(tenant, contact_id):
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no contact {contact_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
