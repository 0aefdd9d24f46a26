"""Workflow schedules (tenant-scoped, `/v1/schedules`): a workflow whose trigger is
`Scheduled`, started by a cron expression in an IANA time zone (contracts.schedules.
ScheduleSpec; docs/architecture.md, *Schedules*).

Saved with its next run computed from now (and again on every change); the scheduler fires
it and records when it did (`last_run_at`, `last_trigger_id`, `fires`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from clocks.schedules import InvalidSchedule, Schedule, zone_of
from contracts.schedules import SCHEDULED, ScheduleSpec
from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, Field
from servicekit.problems import INVALID_REQUEST, FieldError

from trigger_gateway.adapters.schedules import MAX_LISTED, ScheduleRepository, new_schedule_id
from trigger_gateway.handlers.deps import Gateway, GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/schedules", tags=["schedules"], responses=problem_responses(*TENANT_ERRORS)
)
ScheduleId = Annotated[
    str, Path(pattern=r"^sch_[0-9a-f]{24}$", examples=["sch_0123456789abcdef01234567"])
]


class ScheduleView(ScheduleSpec):
    id: str
    next_run_at: datetime = Field(description="When it fires next (UTC); computed on each save.")
    last_run_at: datetime | None = Field(description="When it fired last; null until it has.")
    last_trigger_id: str | None = Field(description="The trigger its last fire published.")
    fires: int = Field(description="How many times it has fired.")
    skipped_fires: int = Field(
        0, description="Fire times its catch-up policy left out after downtime."
    )
    revision: int = Field(description="1, then one more per change.")
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    schedules: list[ScheduleView]


async def schedules_of(request: Request) -> ScheduleRepository:
    repository: ScheduleRepository = request.app.state.schedules
    return repository


SchedulesDep = Annotated[ScheduleRepository, Depends(schedules_of)]


def schedule_view(doc: dict[str, Any]) -> ScheduleView:
    return ScheduleView(
        **{k: doc[k] for k in ScheduleSpec.model_fields if k in doc},
        id=doc["_id"],
        next_run_at=doc["next_run_at"],
        last_run_at=doc.get("last_run_at"),
        last_trigger_id=doc.get("last_trigger_id"),
        fires=int(doc.get("fires") or 0),
        skipped_fires=int(doc.get("skipped_fires") or 0),
        revision=int(doc["revision"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


async def _checked(gw: Gateway, tenant: str, body: ScheduleSpec) -> Schedule:
    """The schedule ``body`` describes; 422 naming each field that is wrong: the zone, the
    expression, or the workflow (one of the tenant's, whose trigger is Scheduled)."""
    errors: list[FieldError] = []
    zone = body.timezone
    try:
        zone_of(zone)
    except InvalidSchedule as exc:
        errors.append(FieldError(name="body.timezone", reason=str(exc)))
        zone = "UTC"  # the expression is checked all the same
    schedule: Schedule | None = None
    try:
        schedule = Schedule.parse(body.cron_expression, zone)
    except InvalidSchedule as exc:
        errors.append(FieldError(name="body.cron_expression", reason=str(exc)))
    workflow = await gw.workflows.get(tenant, body.workflow_id)
    if workflow is None:
        errors.append(FieldError(name="body.workflow_id", reason="names no workflow of the tenant"))
    elif workflow["trigger_type"] != SCHEDULED:
        reason = (
            f"names a workflow whose trigger is {workflow['trigger_type']!r}: a schedule "
            f"starts workflows whose trigger is {SCHEDULED}"
        )
        errors.append(FieldError(name="body.workflow_id", reason=reason))
    if errors or schedule is None:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "; ".join(f"{e.name} {e.reason}" for e in errors),
            errors=errors,
            type_=INVALID_REQUEST,
        )
    return schedule


def _not_found(schedule_id: str) -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, f"no schedule {schedule_id}")


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(*WITH_BODY))
async def create_schedule(
    body: ScheduleSpec, tenant: TenantDep, gw: GatewayDep, schedules: SchedulesDep
) -> ScheduleView:
    """Schedule a workflow whose trigger is Scheduled (revision 1, its next run computed).
    422 naming the field when the expression or the zone is not valid, or the workflow is
    not one of the tenant's with that trigger."""
    schedule = await _checked(gw, tenant, body)
    return schedule_view(await schedules.create(tenant, new_schedule_id(), body, schedule))


@router.get(
    "", description=f"The tenant's schedules, newest first: at most {MAX_LISTED} (not paged)."
)
async def list_schedules(
    tenant: TenantDep,
    schedules: SchedulesDep,
    workflow_id: Annotated[
        str | None, Query(max_length=64, description="Only this workflow's schedules.")
    ] = None,
) -> ScheduleList:
    docs = await schedules.list(tenant, workflow_id)
    return ScheduleList(schedules=[schedule_view(d) for d in docs])


@router.get("/{schedule_id}", responses=problem_responses(404))
async def get_schedule(
    schedule_id: ScheduleId, tenant: TenantDep, schedules: SchedulesDep
) -> ScheduleView:
    doc = await schedules.get(tenant, schedule_id)
    if doc is None:
        raise _not_found(schedule_id)
    return schedule_view(doc)


@router.put("/{schedule_id}", responses=problem_responses(404, *WITH_BODY))
async def replace_schedule(
    schedule_id: ScheduleId,
    body: ScheduleSpec,
    tenant: TenantDep,
    gw: GatewayDep,
    schedules: SchedulesDep,
) -> ScheduleView:
    """Replace the spec as a whole (the next revision): its next run is computed again from
    now; when it fired last, and how often, are kept."""
    if await schedules.get(tenant, schedule_id) is None:
        raise _not_found(schedule_id)
    schedule = await _checked(gw, tenant, body)
    doc = await schedules.replace(tenant, schedule_id, body, schedule)
    if doc is None:
        raise _not_found(schedule_id)
    return schedule_view(doc)


@router.delete(
    "/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_schedule(
    schedule_id: ScheduleId, tenant: TenantDep, schedules: SchedulesDep
) -> Response:
    """It fires no more; the executions it started stay."""
    if not await schedules.delete(tenant, schedule_id):
        raise _not_found(schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
