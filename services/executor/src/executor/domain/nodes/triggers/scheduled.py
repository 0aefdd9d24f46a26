"""Scheduled: starts the workflow when one of its schedules fires (`/v1/schedules`: a cron
expression in a time zone; docs/architecture.md, *Schedules*).

The workflow reads `trigger.scheduledFor` (the planned time, ISO 8601 UTC), `trigger.firedAt`,
`trigger.lateSeconds` (more than a few after downtime, when the catch-up policy fires a missed
run), `trigger.scheduleId`, `trigger.cronExpression` and `trigger.timezone`. A schedule starts
only its own workflow. With `scheduleIds` set, only those schedules start it (empty: any of
its schedules).
"""

from collections.abc import Mapping
from typing import Any

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    scheduleIds: list[str] = []


@node_kind("trigger.scheduled", labels=("Scheduled", "Schedule"))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(
        output={
            "scheduleId": ctx.trigger_payload.get("scheduleId"),
            "scheduledFor": ctx.trigger_payload.get("scheduledFor"),
        }
    )


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why a fire does not start the workflow, or None when it does."""
    if config.scheduleIds and trigger.get("scheduleId") not in config.scheduleIds:
        return f"schedule {trigger.get('scheduleId')!r} is not one of {config.scheduleIds}"
    return None
