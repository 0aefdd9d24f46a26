"""Execution history (read-only; tenant-scoped: another tenant's id answers 404)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status

from trigger_gateway.adapters.history import ExecutionFilter
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.paging import ExecutionsCursor, Limit, NodesCursor, page_of, position
from trigger_gateway.handlers.problems import TENANT_ERRORS, ApiProblem, problem_responses

router = APIRouter(
    prefix="/v1/executions", tags=["executions"], responses=problem_responses(*TENANT_ERRORS)
)
workflow_router = APIRouter(
    prefix="/v1/workflows/{workflow_id}/executions",
    tags=["executions"],
    responses=problem_responses(*TENANT_ERRORS, 404),
)
_NOT_FOUND = problem_responses(404)

Status = Literal["created", "running", "waiting", "completed", "failed", "cancelled"]
TIMELINE_LIMIT = 200
"""Node runs embedded in one execution; the rest are paged at `/nodes`."""

_SUMMARY_FIELDS = (
    "status",
    "workflow_id",
    "workflow_version",
    "trigger_id",
    "trigger_type",
    "conversation_id",
    "created_at",
    "started_at",
    "finished_at",
    "execution_time_ms",
    "total_nodes",
    "executed_nodes",
    "failed_nodes",
    "waiting_for",
    "error",
)
# The product guide's names for the counters, next to ours.
_CAMEL = {
    "total_nodes": "totalNodes",
    "executed_nodes": "executedNodes",
    "failed_nodes": "failedNodes",
    "execution_time_ms": "executionTimeMs",
}
_RUN_FIELDS = (
    "seq",
    "node_id",
    "label",
    "kind",
    "status",
    "port",
    "activation",
    "effect_id",
    "started_at",
    "finished_at",
    "duration_ms",
    "error",
    "error_detail",
    "missing_paths",
)


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    fields = {k: doc.get(k) for k in _SUMMARY_FIELDS}
    return {"id": doc["_id"], **fields, **{camel: doc.get(k) for k, camel in _CAMEL.items()}}


def _node_run(run: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: run.get(k) for k in _RUN_FIELDS},
        "input": run.get("input"),
        "output": run.get("output"),
    }


def _decoded(text: str | None) -> Any:
    """The executor stores payload-shaped values as JSON text (see docs/architecture.md)."""
    return None if text is None else json.loads(text)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


async def _execution(gw: GatewayDep, tenant: str, execution_id: str) -> dict[str, Any]:
    doc = await gw.executions.get(tenant, execution_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no execution {execution_id}")
    return doc


@router.get("")
async def list_executions(
    tenant: TenantDep,
    gw: GatewayDep,
    trigger_id: str | None = None,
    workflow_id: str | None = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """The executions a trigger caused (or a workflow's latest); paged per workflow at
    `/v1/workflows/{id}/executions`."""
    docs = await gw.executions.find(
        tenant, trigger_id=trigger_id, workflow_id=workflow_id, limit=limit
    )
    return {"executions": [summary(d) for d in docs]}


@router.get("/{execution_id}", responses=_NOT_FOUND)
async def get_execution(execution_id: str, tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    """Status, trigger, timing, counters, final variables, error, what it waits for, and the
    first node runs (all of them at `/nodes`)."""
    doc = await _execution(gw, tenant, execution_id)
    runs = await gw.executions.node_runs(doc, limit=TIMELINE_LIMIT + 1)
    return {
        **summary(doc),
        "trigger": _decoded(doc.get("trigger_json")),
        "variables": _decoded(doc.get("variables_json")),
        "incident": doc.get("incident"),
        "watchdog": doc.get("watchdog"),  # the watchdog's last repair, with its reason
        "timeline": [_node_run(r) for r in runs[:TIMELINE_LIMIT]],
        "timeline_truncated": len(runs) > TIMELINE_LIMIT,
        "nodes_url": f"{gw.settings.public_url}/v1/executions/{execution_id}/nodes",
    }


@router.get("/{execution_id}/nodes", responses=_NOT_FOUND)
async def list_node_runs(
    execution_id: str,
    tenant: TenantDep,
    gw: GatewayDep,
    limit: Limit = 100,
    cursor: NodesCursor = None,
) -> dict[str, Any]:
    """The node timeline in run order: each run with its input and output context, timing,
    status and error."""
    doc = await _execution(gw, tenant, execution_id)
    after = position("nodes", cursor, 1)
    runs = await gw.executions.node_runs(
        doc, limit=limit + 1, after_seq=None if after is None else int(after[0])
    )
    items, next_cursor = page_of("nodes", runs, limit, lambda r: (r["seq"],))
    return {
        "execution_id": execution_id,
        "nodes": [_node_run(r) for r in items],
        "next_cursor": next_cursor,
    }


@workflow_router.get("")
async def list_workflow_executions(
    workflow_id: str,
    tenant: TenantDep,
    gw: GatewayDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    since: Annotated[
        datetime | None, Query(description="Created at or after (ISO 8601; naive is UTC).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Created before.")] = None,
    limit: Limit = 50,
    cursor: ExecutionsCursor = None,
) -> dict[str, Any]:
    """A workflow's executions, newest first."""
    if await gw.workflows.get(tenant, workflow_id) is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no workflow {workflow_id}")
    after = position("executions", cursor, 2)
    docs = await gw.executions.page(
        tenant,
        workflow_id,
        ExecutionFilter(status=status_, since=_utc(since), until=_utc(until)),
        limit=limit + 1,
        after=after,
    )
    items, next_cursor = page_of("executions", docs, limit, lambda d: (d["created_at"], d["_id"]))
    return {"executions": [summary(d) for d in items], "next_cursor": next_cursor}
