"""Commands on one execution: cancel it, or retry it from the node that failed.

The gateway never writes an execution (the executor is its only writer): it checks that the
command makes sense now, publishes it on the commands topic keyed by the execution id, and
answers 202. The command id is derived from the execution's version, so a double click sends
one command, and a retry after a second failure is a new one."""

from __future__ import annotations

from typing import Any

from contracts import Envelope, topics
from contracts.events import ExecutionCancelRequested, ExecutionRetryRequested
from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)
from trigger_gateway.telemetry import attributes, current_trace, tracer

router = APIRouter(
    prefix="/v1/executions",
    tags=["executions"],
    responses=problem_responses(*TENANT_ERRORS, 404, 409),
)
SOURCE = "/connectflo/trigger-gateway"
FINISHED = ("completed", "failed", "cancelled")


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="cancelled through the API", min_length=1, max_length=500)


class CommandAccepted(BaseModel):
    execution_id: str
    command_id: str
    command: str
    status: str = Field(description="The execution's status when the command was sent.")


async def _execution(gw: GatewayDep, tenant: str, execution_id: str) -> dict[str, Any]:
    doc = await gw.executions.get(tenant, execution_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no execution {execution_id}")
    return doc


async def _send(
    gw: GatewayDep, doc: dict[str, Any], command: ExecutionCancelRequested | ExecutionRetryRequested
) -> CommandAccepted:
    with tracer.start_as_current_span(
        command.event_type,
        attributes=attributes(execution_id=doc["_id"], tenant_id=doc["tenant_id"]),
    ):
        envelope = Envelope.wrap(
            command, source=SOURCE, tenant_id=doc["tenant_id"], **current_trace()
        )
        await gw.broker.publish(
            envelope.body(), topics.EXECUTION_COMMANDS, doc["_id"].encode(), envelope.headers()
        )
    return CommandAccepted(
        execution_id=doc["_id"],
        command_id=command.command_id,
        command=command.event_type,
        status=doc["status"],
    )


@router.post(
    "/{execution_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(*WITH_BODY),
)
async def cancel_execution(
    execution_id: str, tenant: TenantDep, gw: GatewayDep, body: Cancellation | None = None
) -> CommandAccepted:
    """Stop an execution that has not finished; 409 when it has."""
    doc = await _execution(gw, tenant, execution_id)
    if doc["status"] in FINISHED:
        raise ApiProblem(
            status.HTTP_409_CONFLICT, f"execution {execution_id} is already {doc['status']}"
        )
    command = ExecutionCancelRequested(
        command_id=f"cancel:{execution_id}:{doc.get('version', 0)}",
        execution_id=execution_id,
        tenant_id=tenant,
        reason=(body or Cancellation()).reason,
    )
    return await _send(gw, doc, command)


@router.post("/{execution_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_execution(execution_id: str, tenant: TenantDep, gw: GatewayDep) -> CommandAccepted:
    """Run a failed execution again from the node that failed; 409 unless it failed."""
    doc = await _execution(gw, tenant, execution_id)
    if doc["status"] != "failed":
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            f"execution {execution_id} is {doc['status']}: only a failed one can be retried",
        )
    command = ExecutionRetryRequested(
        command_id=f"retry:{execution_id}:{doc.get('version', 0)}",
        execution_id=execution_id,
        tenant_id=tenant,
    )
    return await _send(gw, doc, command)
