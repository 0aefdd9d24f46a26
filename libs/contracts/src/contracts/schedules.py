"""Workflow schedules, as every service names them (the spec's WorkflowSchedule): a workflow
started by a cron expression in an IANA time zone (docs/architecture.md, *Schedules*).

The gateway validates and stores them (`/v1/schedules`), with the next run computed; the
scheduler replica that owns a schedule's partition fires it (TriggerReceived of type
`Scheduled` for that workflow alone, its trigger id made of the schedule and the planned
time, so a second fire of the same time starts nothing) and moves its next run on."""

from __future__ import annotations

import zlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts import topics

SCHEDULES = "workflow_schedules"  # _id sch_<hex>: tenant, workflow, spec, next/last run
SCHEDULED = "Scheduled"  # the trigger type a schedule starts
CatchUp = Literal["skip", "once", "each"]
Overlap = Literal["skip", "allow"]


class ScheduleSpec(BaseModel):
    """A schedule as saved (the API's body)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflow_id: str = Field(pattern=r"^wf_[0-9a-f]{16,24}$", examples=["wf_0123456789abcdef"])
    cron_expression: str = Field(
        min_length=9,
        max_length=200,
        examples=["0 9 * * 1"],
        description="Five fields (minute hour day month weekday), or six with seconds first "
        "(`*/10 * * * * *`).",
    )
    timezone: str = Field(
        "UTC", min_length=1, max_length=64, examples=["Europe/Berlin"], description="IANA zone."
    )
    is_active: bool = Field(True, strict=True)
    catch_up: CatchUp = Field(
        "once",
        description="Fires missed while the system was down: skip them, run once (the latest), "
        "or run each (the latest `catch_up_limit`).",
    )
    catch_up_limit: int = Field(10, strict=True, ge=1, le=1000)
    overlap: Overlap = Field(
        "skip",
        description="skip: a fire while the previous run of this schedule is not finished "
        "starts nothing (the trigger says why); allow: it starts another run.",
    )


def schedule_partition(schedule_id: str) -> int:
    """The partition of the timers topic whose owner fires the schedule (the lease)."""
    return zlib.crc32(schedule_id.encode()) % topics.partitions_of(topics.TIMER_REQUESTS)


def scheduled_trigger_id(schedule_id: str, planned_epoch_seconds: int) -> str:
    """The same for every fire of one planned time: a repeat starts nothing."""
    return f"{schedule_id}:{planned_epoch_seconds}"
