"""Execution history (read-only; tenant-scoped: another tenant's id answers 404)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from trigger_gateway.handlers.deps import GatewayDep, TenantDep

router = APIRouter(prefix="/v1/executions", tags=["executions"])

_SUMMARY_FIELDS = (
    "status",
    "workflow_id",
    "workflow_version",
    "trigger_id",
    "trigger_type",
    "conversation_id",
    "started_at",
    "finished_at",
    "execution_time_ms",
    "total_nodes",
    "executed_nodes",
    "failed_nodes",
    "waiting_for",
    "error",
)


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: doc.get(k) for k in _SUMMARY_FIELDS}}


@router.get("")
async def list_executions(
    tenant: TenantDep,
    gw: GatewayDep,
    trigger_id: str | None = None,
    workflow_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    docs = await gw.executions.find(
        tenant, trigger_id=trigger_id, workflow_id=workflow_id, limit=limit
    )
    return {"executions": [_summary(d) for d in docs]}


@router.get("/{execution_id}")
async def get_execution(execution_id: str, tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    doc = await gw.executions.get(tenant, execution_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no execution {execution_id}")
    runs = await gw.executions.node_runs(execution_id)
    timeline = [
        {
            **{
                k: run.get(k)
                for k in (
                    "node_id",
                    "label",
                    "kind",
                    "status",
                    "port",
                    "started_at",
                    "finished_at",
                    "duration_ms",
                    "error",
                    "missing_paths",
                )
            },
            "input": _decoded(run.get("input_json")),
            "output": _decoded(run.get("output_json")),
        }
        for run in runs
    ]
    return {
        **_summary(doc),
        "trigger": _decoded(doc.get("trigger_json")),
        "variables": _decoded(doc.get("variables_json")),
        "timeline": timeline,
    }


def _decoded(text: str | None) -> Any:
    """The executor stores payload-shaped values as JSON text (see docs/architecture.md)."""
    return None if text is None else json.loads(text)
