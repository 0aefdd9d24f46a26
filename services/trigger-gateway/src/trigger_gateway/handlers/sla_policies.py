"""SLA policies (tenant-scoped, `/v1/sla-policies`): targets for a conversation's first
response, next response and resolution, by priority and channel, counted in business hours
(contracts.sla.SlaPolicySpec; docs/architecture.md, *SLA clocks*).

A conversation's clocks (`GET /v1/conversations/{id}/sla`) follow the first active policy, by
position then name, that covers its channel; the scheduler's SLA keeper announces them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from clocks.business import Calendar, InvalidCalendar
from clocks.conversations import calendar_of
from contracts.sla import BusinessHours, OpeningHours, SlaPolicySpec
from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel, Field
from servicekit.problems import INVALID_REQUEST, FieldError

from trigger_gateway.adapters.sla_policies import (
    MAX_POLICIES,
    NameTaken,
    SlaPolicyRepository,
    TooManyPolicies,
    new_policy_id,
)
from trigger_gateway.handlers.deps import TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/sla-policies", tags=["sla-policies"], responses=problem_responses(*TENANT_ERRORS)
)
PolicyId = Annotated[str, Path(pattern=r"^slp_[0-9a-f]{16}$", examples=["slp_0123456789abcdef"])]


class SlaPolicyView(SlaPolicySpec):
    id: str
    revision: int = Field(description="1, then one more per change.")
    created_at: datetime
    updated_at: datetime


class SlaPolicyList(BaseModel):
    sla_policies: list[SlaPolicyView]


async def sla_policies_of(request: Request) -> SlaPolicyRepository:
    repository: SlaPolicyRepository = request.app.state.sla_policies
    return repository


SlaPoliciesDep = Annotated[SlaPolicyRepository, Depends(sla_policies_of)]


def policy_view(doc: dict[str, Any]) -> SlaPolicyView:
    return SlaPolicyView(
        **{k: doc[k] for k in SlaPolicySpec.model_fields if k in doc},
        id=doc["_id"],
        revision=int(doc["revision"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def _hours_errors(hours: BusinessHours) -> list[FieldError]:
    """What is wrong with the business hours, each naming its field: the zone, a day's hours,
    the holidays' country or subdivision (each piece built as a calendar of its own)."""
    where = "body.business_hours"
    errors: list[FieldError] = []

    def check(name: str, build: Callable[[], object]) -> bool:
        try:
            build()
        except InvalidCalendar as exc:
            errors.append(FieldError(name=f"{where}.{name}" if name else where, reason=str(exc)))
            return False
        return True

    check("timezone", lambda: Calendar.build(hours.timezone, {}))
    for day, spans in hours.weekly.items():
        check(f"weekly.{day}", partial(_hours_of, day, spans))
    if not any(hours.weekly.values()):
        reason = "has no opening hours: the clocks would never run"
        errors.append(FieldError(name=f"{where}.weekly", reason=reason))
    country, subdivision = hours.holidays_country, hours.holidays_subdivision
    if country is None and subdivision is not None:
        reason = "needs holidays_country: a subdivision is one of a country's"
        errors.append(FieldError(name=f"{where}.holidays_subdivision", reason=reason))
    known = country is not None and check(
        "holidays_country", lambda: Calendar.build("UTC", {}, country=country)
    )
    if known and subdivision is not None:
        check(
            "holidays_subdivision",
            lambda: Calendar.build("UTC", {}, country=country, subdivision=subdivision),
        )
    if not errors:
        check("", lambda: calendar_of(hours))  # the whole, as the clocks build it
    return errors


def _hours_of(day: str, spans: Sequence[OpeningHours]) -> Calendar:
    return Calendar.build("UTC", {day: [(h.start, h.end) for h in spans]})


def _target_errors(body: SlaPolicySpec) -> list[FieldError]:
    """Two targets for the same metric, priority and channel: which one applies is unclear."""
    seen: dict[tuple[str, str | None, str | None], int] = {}
    errors = []
    for index, target in enumerate(body.targets):
        key = (target.metric, target.priority, target.channel)
        if key in seen:
            reason = (
                f"targets[{index}] repeats targets[{seen[key]}]: metric {target.metric}, "
                f"priority {target.priority or 'any'}, channel {target.channel or 'any'}"
            )
            errors.append(FieldError(name="body.targets", reason=reason))
        else:
            seen[key] = index
    return errors


def checked(body: SlaPolicySpec) -> SlaPolicySpec:
    """``body``, or 422 naming each field that the schema lets through but is wrong."""
    errors = _target_errors(body)
    if body.business_hours is not None:
        errors = [*_hours_errors(body.business_hours), *errors]
    if errors:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "; ".join(f"{e.name} {e.reason}" for e in errors),
            errors=errors,
            type_=INVALID_REQUEST,
        )
    return body


def _not_found(policy_id: str) -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, f"no SLA policy {policy_id}")


def _name_taken(name: str) -> ApiProblem:
    reason = f"is taken: the tenant has an SLA policy named {name!r}"
    return ApiProblem(
        status.HTTP_409_CONFLICT,
        f"body.name {reason}",
        errors=[FieldError(name="body.name", reason=reason)],
    )


def _too_many() -> ApiProblem:
    reason = f"a tenant may have at most {MAX_POLICIES} SLA policies; delete one first"
    return ApiProblem(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        f"the tenant has {MAX_POLICIES} SLA policies: {reason}",
        errors=[FieldError(name="body", reason=reason)],
        type_=INVALID_REQUEST,
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, *WITH_BODY))
async def create_sla_policy(
    body: SlaPolicySpec, tenant: TenantDep, policies: SlaPoliciesDep
) -> SlaPolicyView:
    """Save a policy (revision 1). 422 naming the field when the business hours (zone, a
    day's hours, holidays country or subdivision) are not valid or two targets share a
    metric, priority and channel, or when the tenant has its most policies; 409 when the
    name is taken."""
    checked(body)
    try:
        return policy_view(await policies.create(tenant, new_policy_id(), body))
    except NameTaken:
        raise _name_taken(body.name) from None
    except TooManyPolicies:
        raise _too_many() from None


@router.get(
    "",
    description=f"The tenant's SLA policies by position, then name (at most {MAX_POLICIES}): "
    "a conversation follows the first active one covering its channel.",
)
async def list_sla_policies(tenant: TenantDep, policies: SlaPoliciesDep) -> SlaPolicyList:
    return SlaPolicyList(sla_policies=[policy_view(d) for d in await policies.list(tenant)])


@router.get("/{policy_id}", responses=problem_responses(404))
async def get_sla_policy(
    policy_id: PolicyId, tenant: TenantDep, policies: SlaPoliciesDep
) -> SlaPolicyView:
    doc = await policies.get(tenant, policy_id)
    if doc is None:
        raise _not_found(policy_id)
    return policy_view(doc)


@router.put("/{policy_id}", responses=problem_responses(404, 409, *WITH_BODY))
async def replace_sla_policy(
    policy_id: PolicyId, body: SlaPolicySpec, tenant: TenantDep, policies: SlaPoliciesDep
) -> SlaPolicyView:
    """Replace the spec as a whole (the next revision); conversations' clocks follow it from
    the next time they are reckoned."""
    if await policies.get(tenant, policy_id) is None:
        raise _not_found(policy_id)
    checked(body)
    try:
        doc = await policies.replace(tenant, policy_id, body)
    except NameTaken:
        raise _name_taken(body.name) from None
    if doc is None:
        raise _not_found(policy_id)
    return policy_view(doc)


@router.delete(
    "/{policy_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_sla_policy(
    policy_id: PolicyId, tenant: TenantDep, policies: SlaPoliciesDep
) -> Response:
    """Conversations it covered follow the next policy covering their channel, if any."""
    if not await policies.delete(tenant, policy_id):
        raise _not_found(policy_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
