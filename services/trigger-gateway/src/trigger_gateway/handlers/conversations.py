"""Conversations (tenant-scoped): list and filter them, read one with its variables, message
log and SLA clocks, change its status, priority, tags, assignee and variables; the tenant's
(global) variables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from clocks.conversations import priority_of
from contracts.conversations import decoded_variables
from contracts.sla import Priority
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from servicekit.problems import INVALID_REQUEST, FieldError

from trigger_gateway.adapters.conversations import ConversationFilter
from trigger_gateway.handlers.agents import released
from trigger_gateway.handlers.conversation_sla import SlaView, sla_of
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.paging import (
    ConversationsCursor,
    Limit,
    MessagesCursor,
    page_of,
    position,
)
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)
from trigger_gateway.handlers.sla_policies import SlaPoliciesDep

router = APIRouter(
    prefix="/v1/conversations", tags=["conversations"], responses=problem_responses(*TENANT_ERRORS)
)
variables_router = APIRouter(
    prefix="/v1/variables", tags=["conversations"], responses=problem_responses(*TENANT_ERRORS)
)
Status = Literal["open", "bot", "waiting_on_customer", "with_agent", "closed"]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
RECENT_MESSAGES = 50
"""Messages embedded in one conversation (newest); the rest are paged at `/messages`."""
_FIELDS = (
    "channel",
    "status",
    "tags",
    "assignee",
    "contact_id",
    "contact_address",
    "tenant_address",
    "created_at",
    "updated_at",
    "last_message_at",
    "last_inbound_at",
    "last_outbound_at",
    "reopened_at",
    "last_delivery_failure",
    "queue",
    "assignment",
    "handoff",
    "resolution",
    "closed_at",
)
_MESSAGE_FIELDS = (
    "direction",
    "channel",
    "body",
    "subject",  # an email's
    "media",
    "from",
    "to",
    "provider",
    "provider_message_id",
    "status",
    "status_history",
    "error",
    "trigger_id",
    "execution_id",
    "node_id",
    "created_at",
)


LIMIT = 2**63


def _within_64_bits(value: Any) -> Any:
    """Numbers as the API stores them (docs: JsonValue): within 64 bits."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        if not -LIMIT <= value < LIMIT:
            raise ValueError("a number beyond 64 bits")
    elif isinstance(value, list):
        for item in value:
            _within_64_bits(item)
    elif isinstance(value, dict):
        for item in value.values():
            _within_64_bits(item)
    return value


class ConversationChange(BaseModel):
    """What to change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    priority: Priority | None = Field(
        default=None, description="What SLA targets apply (null: back to `normal`)."
    )
    assignee: str | None = Field(default=None, max_length=200, description="An agent's id.")
    tags: list[Tag] | None = Field(default=None, max_length=100, description="Replaces them.")
    add_tags: list[Tag] = Field(default_factory=list, max_length=100)
    remove_tags: list[Tag] = Field(default_factory=list, max_length=100)
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Merged into `conversation.*` (a JSON merge patch: null removes one).",
    )

    @field_validator("variables")
    @classmethod
    def _numbers(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _within_64_bits(value)  # type: ignore[no-any-return]


class VariablesChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variables: dict[str, Any] = Field(
        description="Merged into `global.*` (a JSON merge patch: null removes one)."
    )

    @field_validator("variables")
    @classmethod
    def _numbers(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _within_64_bits(value)  # type: ignore[no-any-return]


def _moment(name: str, text: str | None) -> datetime | None:
    """An ISO 8601 date-time (naive is UTC); 422 naming the parameter otherwise."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"query.{name}: not an ISO 8601 date-time",
            errors=[FieldError(name=f"query.{name}", reason="not an ISO 8601 date-time")],
            type_=INVALID_REQUEST,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["conversation_id"],
        **{k: doc.get(k) for k in _FIELDS},
        "priority": priority_of(doc),
    }


def message_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **{k: doc.get(k) for k in _MESSAGE_FIELDS}}


@router.get("")
async def list_conversations(
    tenant: TenantDep,
    gw: GatewayDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    channel: Annotated[str | None, Query(max_length=50)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    contact_id: Annotated[str | None, Query(max_length=200)] = None,
    contact_address: Annotated[
        str | None, Query(max_length=320, description="The customer's number or address.")
    ] = None,
    since: Annotated[
        str | None,
        Query(
            description="Last message at or after (ISO 8601; naive is UTC).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(description="Last message before.", json_schema_extra={"format": "date-time"}),
    ] = None,
    limit: Limit = 50,
    cursor: ConversationsCursor = None,
) -> dict[str, Any]:
    """The tenant's conversations, the most recent message first."""
    after = position("conversations", cursor, 2)
    which = ConversationFilter(
        status=status_,
        channel=channel,
        tag=tag,
        contact_id=contact_id,
        contact_address=contact_address,
        since=_moment("since", since),
        until=_moment("until", until),
    )
    docs = await gw.conversations.page(tenant, which, limit=limit + 1, after=after)
    items, next_cursor = page_of(
        "conversations", docs, limit, lambda d: (d["last_message_at"], d["_id"])
    )
    return {"conversations": [summary(d) for d in items], "next_cursor": next_cursor}


async def _conversation(gw: GatewayDep, tenant: str, conversation_id: str) -> dict[str, Any]:
    doc = await gw.conversations.get(tenant, conversation_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no conversation {conversation_id}")
    return doc


@router.get("/{conversation_id}", responses=problem_responses(404))
async def get_conversation(
    conversation_id: str, tenant: TenantDep, gw: GatewayDep, policies: SlaPoliciesDep
) -> dict[str, Any]:
    """Its status, priority, tags, assignee, contact, variables (`conversation.*`), latest
    messages (oldest first; all of them, newest first, at `/messages`) and SLA clocks (`sla`:
    as at `/sla`)."""
    doc = await _conversation(gw, tenant, conversation_id)
    recent = await gw.conversations.messages(
        tenant, conversation_id, limit=RECENT_MESSAGES + 1, after=None
    )
    sla = await sla_of(policies, gw.conversations, tenant, conversation_id, doc, datetime.now(UTC))
    return {
        **summary(doc),
        "variables": decoded_variables(doc.get("variables")),
        "messages": [message_view(m) for m in reversed(recent[:RECENT_MESSAGES])],
        "messages_truncated": len(recent) > RECENT_MESSAGES,
        "messages_url": f"{gw.settings.public_url}/v1/conversations/{conversation_id}/messages",
        "sla": None if sla is None else sla.model_dump(mode="json"),
    }


@router.get("/{conversation_id}/sla", responses=problem_responses(404))
async def get_conversation_sla(
    conversation_id: str, tenant: TenantDep, gw: GatewayDep, policies: SlaPoliciesDep
) -> SlaView | None:
    """Its SLA clocks now, under the first active policy (by position, then name) covering
    its channel: null when none does. Each clock is running, paused (waiting on the customer,
    or outside business hours), met or breached, with when it is at risk and due."""
    doc = await _conversation(gw, tenant, conversation_id)
    return await sla_of(policies, gw.conversations, tenant, conversation_id, doc, datetime.now(UTC))


@router.get("/{conversation_id}/messages", responses=problem_responses(404))
async def list_messages(
    conversation_id: str,
    tenant: TenantDep,
    gw: GatewayDep,
    limit: Limit = 50,
    cursor: MessagesCursor = None,
) -> dict[str, Any]:
    """Every inbound and outbound message, newest first, with its delivery status history."""
    await _conversation(gw, tenant, conversation_id)
    after = position("messages", cursor, 2)
    docs = await gw.conversations.messages(tenant, conversation_id, limit=limit + 1, after=after)
    items, next_cursor = page_of("messages", docs, limit, lambda d: (d["created_at"], d["_id"]))
    return {
        "conversation_id": conversation_id,
        "messages": [message_view(m) for m in items],
        "next_cursor": next_cursor,
    }


@router.patch("/{conversation_id}", responses=problem_responses(404, *WITH_BODY))
async def change_conversation(
    conversation_id: str, change: ConversationChange, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    """Status, priority, assignee, tags and variables; what the API writes, executions read
    when they start (docs/architecture.md, *Conversations*). A status change is logged
    (`status_log`): the SLA clocks pause while waiting on the customer and stop at closed."""
    fields: dict[str, Any] = change.model_dump(include={"assignee"}, exclude_unset=True)
    if change.status is not None:
        fields["status"] = change.status
    if "priority" in change.model_fields_set:
        fields["priority"] = change.priority or "normal"
    add, remove = change.add_tags, change.remove_tags
    if change.tags is not None:  # replaced: the tags given, with the additions, less removals
        tags = dict.fromkeys([*change.tags, *add])
        fields["tags"] = [t for t in tags if t not in remove]
        add, remove = [], []
    doc = await gw.conversations.update(
        tenant, conversation_id, fields, change.variables, add_tags=add, remove_tags=remove
    )
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no conversation {conversation_id}")
    if fields.get("status") in ("open", "bot", "closed") and doc.get("assignment"):
        # taken from its agent: the router ends the assignment and frees the agent
        await released(gw, tenant, conversation_id, f"status set to {fields['status']}")
    return {**summary(doc), "variables": decoded_variables(doc.get("variables"))}


@variables_router.get("")
async def get_variables(tenant: TenantDep, gw: GatewayDep) -> dict[str, Any]:
    """The tenant's variables (`global.*` in every workflow)."""
    return {"variables": await gw.conversations.tenant_variables(tenant)}


@variables_router.patch("", responses=problem_responses(*WITH_BODY))
async def change_variables(
    change: VariablesChange, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    """Merge into the tenant's variables; executions started after see them."""
    return {"variables": await gw.conversations.update_tenant_variables(tenant, change.variables)}
