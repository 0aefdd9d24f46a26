"""An execution's messages: what its nodes sent (a reply, an SMS, a WhatsApp message), each with
its delivery status and history, so a message that fails after its execution has ended (a
reply does not wait for its delivery) shows in the execution's history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status

from trigger_gateway.adapters.execution_messages import ExecutionMessageLog
from trigger_gateway.handlers.conversations import message_view
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import TENANT_ERRORS, ApiProblem, problem_responses

router = APIRouter(
    prefix="/v1/executions", tags=["executions"], responses=problem_responses(*TENANT_ERRORS)
)
MESSAGES_LIMIT = 200


@router.get("/{execution_id}/messages", responses=problem_responses(404))
async def list_execution_messages(
    execution_id: str, request: Request, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    """The messages the execution sent, oldest first, with their status (queued, sent,
    delivered, failed, undelivered, ...), status history and error."""
    if await gw.executions.get(tenant, execution_id) is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no execution {execution_id}")
    log: ExecutionMessageLog = request.app.state.execution_messages
    docs = await log.of_execution(tenant, execution_id, limit=MESSAGES_LIMIT + 1)
    return {
        "execution_id": execution_id,
        "messages": [
            {**message_view(doc), "conversation_id": doc.get("conversation_id")}
            for doc in docs[:MESSAGES_LIMIT]
        ],
        "messages_truncated": len(docs) > MESSAGES_LIMIT,
    }
