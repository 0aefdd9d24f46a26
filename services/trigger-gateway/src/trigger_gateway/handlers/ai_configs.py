"""AI configurations (tenant-scoped, `/v1/ai-configs`): the model, prompt, tone, language
rules, tools and retrieval settings an AI node of a workflow uses (contracts.ai.AIConfigSpec),
attached to workflows (`/v1/workflow-resources`) or named by the classification settings.

The plan limits how many a tenant has (maxAiConfigs, 409). A change is the next revision;
workflows that attach it load it again (their `resources_revision`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from contracts.ai import AIConfigSpec
from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field
from servicekit.problems import INVALID_REQUEST, FieldError

from trigger_gateway.adapters.ai_settings import NameTaken, new_ai_config_id
from trigger_gateway.domain.plans import check_count
from trigger_gateway.handlers.deps import Gateway, GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    limit_problem,
    problem_responses,
)
from trigger_gateway.handlers.resource_state import (
    Resources,
    ResourcesDep,
    ai_config_or_404,
    touch_workflows,
)

router = APIRouter(
    prefix="/v1/ai-configs", tags=["ai"], responses=problem_responses(*TENANT_ERRORS)
)
AIConfigId = Annotated[
    str, Path(pattern=r"^aic_[0-9a-f]{24}$", examples=["aic_0123456789abcdef01234567"])
]


class AIConfigView(AIConfigSpec):
    id: str
    connection_id: str | None = Field(
        None, description="The connection `connection` named when it was saved."
    )
    revision: int = Field(description="1, then one more per change.")
    created_at: datetime
    updated_at: datetime


class AIConfigList(BaseModel):
    ai_configs: list[AIConfigView]


def ai_config_view(doc: dict[str, Any]) -> AIConfigView:
    fields = {k: doc[k] for k in AIConfigSpec.model_fields if k in doc}
    return AIConfigView(
        **fields,
        id=doc["_id"],
        connection_id=doc.get("connection_id"),
        revision=int(doc["revision"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def _invalid(name: str, reason: str) -> ApiProblem:
    return ApiProblem(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        f"{name} {reason}",
        errors=[FieldError(name=name, reason=reason)],
        type_=INVALID_REQUEST,
    )


def _name_taken(name: str) -> ApiProblem:
    reason = f"is taken: the tenant has an AI configuration named {name!r}"
    return ApiProblem(
        status.HTTP_409_CONFLICT,
        f"body.name {reason}",
        errors=[FieldError(name="body.name", reason=reason)],
    )


async def _connection_id(gw: Gateway, tenant: str, ref: str | None) -> str | None:
    """The tenant's `openai` connection ``ref`` names (by id or name); 422 otherwise."""
    if ref is None:
        return None
    doc = await gw.connections.find(tenant, ref)
    if doc is not None and doc["type"] == "openai":
        return str(doc["_id"])
    if doc is not None:
        raise _invalid(
            "body.connection",
            f"names a {doc['type']} connection; an AI configuration needs an openai one",
        )
    openai = [d["name"] for d in await gw.connections.list(tenant, "openai")]
    found = f"its openai connections: {', '.join(openai)}" if openai else "it has none"
    raise _invalid("body.connection", f"names no connection of the tenant ({found})")


def _stored(body: AIConfigSpec, connection_id: str | None) -> dict[str, Any]:
    return {**body.model_dump(mode="json"), "connection_id": connection_id}


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, *WITH_BODY))
async def create_ai_config(
    body: AIConfigSpec, tenant: TenantDep, gw: GatewayDep, res: ResourcesDep
) -> AIConfigView:
    """Save an AI configuration. 422 when `connection` is not one of the tenant's openai
    connections; 409 when the name is taken or the plan's maxAiConfigs is reached."""
    connection_id = await _connection_id(gw, tenant, body.connection)
    plan = await gw.tenants.plan_of(tenant)
    reached = check_count(plan, "maxAiConfigs", await res.ai_configs.count(tenant))
    if reached is not None:
        raise limit_problem(reached)
    doc = {"_id": new_ai_config_id(), "tenant_id": tenant, **_stored(body, connection_id)}
    try:
        return ai_config_view(await res.ai_configs.create(doc))
    except NameTaken:
        raise _name_taken(body.name) from None


@router.get("")
async def list_ai_configs(tenant: TenantDep, res: ResourcesDep) -> AIConfigList:
    """The tenant's AI configurations, by name."""
    return AIConfigList(ai_configs=[ai_config_view(d) for d in await res.ai_configs.list(tenant)])


@router.get("/{config_id}", responses=problem_responses(404))
async def get_ai_config(
    config_id: AIConfigId, tenant: TenantDep, res: ResourcesDep
) -> AIConfigView:
    return ai_config_view(await ai_config_or_404(res, tenant, config_id))


@router.put("/{config_id}", responses=problem_responses(404, 409, *WITH_BODY))
async def replace_ai_config(
    config_id: AIConfigId,
    body: AIConfigSpec,
    tenant: TenantDep,
    gw: GatewayDep,
    res: ResourcesDep,
) -> AIConfigView:
    """Replace it as a whole (the next revision); workflows attaching it load it again."""
    await ai_config_or_404(res, tenant, config_id)
    connection_id = await _connection_id(gw, tenant, body.connection)
    try:
        doc = await res.ai_configs.replace(tenant, config_id, _stored(body, connection_id))
    except NameTaken:
        raise _name_taken(body.name) from None
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no AI configuration {config_id}")
    await _changed(res, tenant, config_id)
    return ai_config_view(doc)


@router.delete(
    "/{config_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 409)
)
async def delete_ai_config(config_id: AIConfigId, tenant: TenantDep, res: ResourcesDep) -> Response:
    """409 while a workflow has it attached or the classification settings name it."""
    await ai_config_or_404(res, tenant, config_id)
    workflows = await res.attachments.attaching(tenant, "ai_config_id", config_id)
    settings = await res.classification.get(tenant)
    classifies = (settings or {}).get("ai_config_id") == config_id
    if workflows or classifies:
        users = [f"workflow {w}" for w in workflows]
        users += ["the classification settings"] if classifies else []
        raise ApiProblem(
            status.HTTP_409_CONFLICT,
            f"AI configuration {config_id} is used by {', '.join(users)}: detach it first",
            members={"workflows": workflows, "classification": classifies},
        )
    if not await res.ai_configs.delete(tenant, config_id):
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no AI configuration {config_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _changed(res: Resources, tenant: str, config_id: str) -> None:
    workflows = await res.attachments.attaching(tenant, "ai_config_id", config_id)
    await touch_workflows(res, tenant, workflows)
    await res.classification.touch(tenant, config_id)
