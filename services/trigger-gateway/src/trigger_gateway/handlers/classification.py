"""The tenant's classification settings (`/v1/classification`): the intents its customers'
messages are classified into (each with example phrases), sentiment on or off, and the engine
(a local classifier trained from the examples). The executor
classifies every inbound message with them before matching triggers, and keeps its trained
classifier by the settings' `revision` (one more when the AI configuration they name
changes, too)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.ai import ClassificationSettings
from fastapi import APIRouter, status
from pydantic import Field
from servicekit.problems import INVALID_REQUEST, FieldError

from trigger_gateway.domain.plans import check_count
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    limit_problem,
    problem_responses,
)
from trigger_gateway.handlers.resource_state import ResourcesDep

router = APIRouter(
    prefix="/v1/classification", tags=["ai"], responses=problem_responses(*TENANT_ERRORS)
)


class ClassificationView(ClassificationSettings):
    revision: int = Field(description="0 until saved, then one more per change.")
    updated_at: datetime | None = None


def classification_view(doc: dict[str, Any] | None) -> ClassificationView:
    if doc is None:
        return ClassificationView(revision=0)
    fields = {k: doc[k] for k in ClassificationSettings.model_fields if k in doc}
    return ClassificationView(
        **fields, revision=int(doc.get("revision") or 0), updated_at=doc.get("updated_at")
    )


@router.get("")
async def get_classification(tenant: TenantDep, res: ResourcesDep) -> ClassificationView:
    """The stored settings, or the defaults (sentiment on, no intents, local engine)."""
    return classification_view(await res.classification.get(tenant))


@router.put("", responses=problem_responses(409, *WITH_BODY))
async def put_classification(
    body: ClassificationSettings, tenant: TenantDep, gw: GatewayDep, res: ResourcesDep
) -> ClassificationView:
    """Replace the settings (the next revision). 409 with more intents than the plan's
    maxIntents; 422 when `ai_config_id` names no AI configuration of the tenant, or the
    openai engine has none."""
    plan = await gw.tenants.plan_of(tenant)
    reached = check_count(plan, "maxIntents", len(body.intents), adding=0)
    if reached is not None:
        raise limit_problem(reached)
    config_id = body.ai_config_id
    reason = None
    if config_id is None and body.engine == "openai":
        reason = "is needed by the openai engine (its connection and model answer)"
    elif config_id is not None and await res.ai_configs.get(tenant, config_id) is None:
        reason = f"names no AI configuration of the tenant ({config_id!r})"
    if reason is not None:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"body.ai_config_id {reason}",
            errors=[FieldError(name="body.ai_config_id", reason=reason)],
            type_=INVALID_REQUEST,
        )
    doc = await res.classification.put(tenant, body.model_dump(mode="json"))
    return classification_view(doc)
