"""People in the loop (tenant-scoped): agents and their presence, queues, what waits in them,
approvals, and what an agent does with a conversation: reply on its channel, give it back to
the bot (docs/architecture.md, *Agents, assignment and handoff*).

Assignments are the agent router's (the notifier, one consumer per tenant): a change here that
can free an agent or give one capacity is told to it (RoutingChanged), and it assigns what
waits in the queues."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from contracts import Envelope, topics
from contracts.events import EffectSettled, Event, NotificationRequested, RoutingChanged
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from trigger_gateway.adapters.agents import AgentRepository
from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)
from trigger_gateway.telemetry import current_trace

SOURCE = "/connectflo/trigger-gateway"
ID = r"^[A-Za-z0-9_-]{1,64}$"
Name = Annotated[str, Field(min_length=1, max_length=100)]
Presence = Literal["online", "away", "offline"]
Strategy = Literal["round_robin", "least_busy", "skill_based"]

agents_router = APIRouter(
    prefix="/v1/agents", tags=["agents"], responses=problem_responses(*TENANT_ERRORS)
)
queues_router = APIRouter(
    prefix="/v1/queues", tags=["agents"], responses=problem_responses(*TENANT_ERRORS)
)
approvals_router = APIRouter(
    prefix="/v1/approvals", tags=["agents"], responses=problem_responses(*TENANT_ERRORS)
)
handoff_router = APIRouter(
    prefix="/v1/conversations", tags=["conversations"], responses=problem_responses(*TENANT_ERRORS)
)


def repository(request: Request) -> AgentRepository:
    agents: AgentRepository = request.app.state.agents
    return agents


# -- agents ----------------------------------------------------------------------------------


class AgentNotify(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["slack", "teams", "email"]
    target: str | None = Field(
        default=None,
        min_length=1,
        max_length=320,
        description="Slack: a channel or user id, or #name; Teams: a webhook's name (else the "
        "default one); email: an address (else the agent's email).",
    )


class _AgentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@]+@[^@]+\.[^@]+$")
    skills: list[Name] | None = Field(default=None, max_length=50)
    languages: list[Annotated[str, Field(min_length=2, max_length=20)]] | None = Field(
        default=None, max_length=20, description="e.g. en, de, pt-BR."
    )
    channels: list[Name] | None = Field(
        default=None, max_length=10, description="Channels taken (empty: every channel)."
    )
    capacity: int | None = Field(default=None, ge=0, le=1000, description="Open conversations.")
    status: Presence | None = None
    notify: AgentNotify | None = Field(
        default=None,
        description="How the agent is told of an assignment, besides the tenant's webhooks "
        "(which always get `conversation.assigned`).",
    )


class NewAgent(_AgentFields):
    id: str | None = Field(default=None, pattern=ID, description="Yours; else made (agt_...).")
    name: str = Field(min_length=1, max_length=200)
    capacity: int = Field(default=5, ge=0, le=1000)
    status: Presence = "offline"


class PresenceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Presence


_AGENT_FIELDS = (
    "name",
    "email",
    "skills",
    "languages",
    "channels",
    "capacity",
    "status",
    "notify",
    "created_at",
    "updated_at",
)


def agent_view(doc: dict[str, Any], load: int | None = None) -> dict[str, Any]:
    view = {"id": doc["agent_id"], **{k: doc.get(k) for k in _AGENT_FIELDS}}
    if load is not None:
        view["load"] = load
    return view


@agents_router.post(
    "", status_code=status.HTTP_201_CREATED, responses=problem_responses(409, *WITH_BODY)
)
async def create_agent(
    body: NewAgent, request: Request, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    agents = repository(request)
    agent_id = body.id or "agt_" + uuid.uuid4().hex[:16]
    fields = body.model_dump(exclude={"id"})
    for name in ("skills", "languages", "channels"):
        fields[name] = fields[name] or []
    now = datetime.now(UTC)
    if not await agents.create_agent(tenant, agent_id, fields, now):
        raise ApiProblem(status.HTTP_409_CONFLICT, f"an agent {agent_id} exists")
    if body.status == "online":
        await _routing(gw, tenant, "agent_available", agent_id=agent_id, reason="new agent")
    doc = await agents.agent(tenant, agent_id)
    assert doc is not None
    return agent_view(doc, 0)


@agents_router.get("")
async def list_agents(request: Request, tenant: TenantDep) -> dict[str, Any]:
    return {"agents": [agent_view(d) for d in await repository(request).agents(tenant)]}


@agents_router.get("/{agent_id}", responses=problem_responses(404))
async def get_agent(agent_id: str, request: Request, tenant: TenantDep) -> dict[str, Any]:
    """With `load`: the conversations assigned to the agent now."""
    agents = repository(request)
    doc = await agents.agent(tenant, agent_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no agent {agent_id}")
    return agent_view(doc, await agents.load(tenant, agent_id))


@agents_router.patch("/{agent_id}", responses=problem_responses(404, *WITH_BODY))
async def change_agent(
    agent_id: str, change: _AgentFields, request: Request, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    return await _change_agent(request, gw, tenant, agent_id, change.model_dump(exclude_unset=True))


@agents_router.put("/{agent_id}/presence", responses=problem_responses(404, *WITH_BODY))
async def set_presence(
    agent_id: str, change: PresenceChange, request: Request, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    """Online, away or offline: only online agents get conversations; one coming online takes
    what waits in its queues."""
    return await _change_agent(request, gw, tenant, agent_id, {"status": change.status})


async def _change_agent(
    request: Request, gw: GatewayDep, tenant: str, agent_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    agents = repository(request)
    before = await agents.agent(tenant, agent_id)
    if before is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no agent {agent_id}")
    doc = await agents.update_agent(tenant, agent_id, fields, datetime.now(UTC))
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no agent {agent_id}")
    freed = doc.get("status") == "online" and (
        before.get("status") != "online"
        or int(doc.get("capacity") or 0) > int(before.get("capacity") or 0)
        or set(doc.get("skills") or []) - set(before.get("skills") or [])
        or set(doc.get("languages") or []) - set(before.get("languages") or [])
    )
    if freed:
        await _routing(gw, tenant, "agent_available", agent_id=agent_id, reason="agent changed")
    return agent_view(doc)


@agents_router.delete(
    "/{agent_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_agent(agent_id: str, request: Request, tenant: TenantDep) -> Response:
    """The agent's current conversations stay assigned until released."""
    if not await repository(request).delete_agent(tenant, agent_id):
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no agent {agent_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- queues ----------------------------------------------------------------------------------


class QueueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    members: list[Annotated[str, Field(pattern=ID)]] = Field(default_factory=list, max_length=500)
    strategy: Strategy = Field(
        default="round_robin", description="For requests that name the queue but no strategy."
    )


def queue_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["queue_id"],
        "name": doc.get("name") or doc["queue_id"],
        "members": doc.get("members") or [],
        "strategy": doc.get("strategy"),
        "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"),
    }


def assignment_view(doc: dict[str, Any]) -> dict[str, Any]:
    fields = ("conversation_id", "execution_id", "queue", "agent_id", "status", "priority")
    return {
        "id": doc["_id"],
        **{k: doc.get(k) for k in fields},
        "reason": doc.get("reason"),
        "requested_at": doc.get("requested_at"),
        "assigned_at": doc.get("assigned_at"),
    }


@queues_router.put("/{queue_id}", responses=problem_responses(404, *WITH_BODY))
async def put_queue(
    queue_id: Annotated[str, Field(pattern=ID)],
    body: QueueBody,
    request: Request,
    tenant: TenantDep,
    gw: GatewayDep,
) -> dict[str, Any]:
    """Create or replace the queue (Assign Agent's `queue` names it by this id)."""
    if not re.match(ID, queue_id):
        raise ApiProblem(status.HTTP_422_UNPROCESSABLE_CONTENT, f"queue id {queue_id!r}: {ID}")
    fields = body.model_dump()
    fields["name"] = fields["name"] or queue_id
    fields["members"] = list(dict.fromkeys(fields["members"]))
    doc = await repository(request).put_queue(tenant, queue_id, fields, datetime.now(UTC))
    await _routing(gw, tenant, "queue_changed", reason=f"queue {queue_id} changed")
    return queue_view(doc)


@queues_router.get("")
async def list_queues(request: Request, tenant: TenantDep) -> dict[str, Any]:
    return {"queues": [queue_view(d) for d in await repository(request).queues(tenant)]}


@queues_router.get("/{queue_id}", responses=problem_responses(404))
async def get_queue(queue_id: str, request: Request, tenant: TenantDep) -> dict[str, Any]:
    """The queue, with what waits in it (in the order it gets agents: priority, then age) and
    what its agents have now: the agents' and approvers' work list."""
    agents = repository(request)
    doc = await agents.queue(tenant, queue_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no queue {queue_id}")
    waiting = [a for a in await agents.assignments(tenant, "queued") if a.get("queue") == queue_id]
    active = [a for a in await agents.assignments(tenant, "active") if a.get("queue") == queue_id]
    approvals = [
        h for h in await agents.handoffs(tenant, "open", 500) if h.get("queue") == queue_id
    ]
    return {
        **queue_view(doc),
        "waiting": [assignment_view(a) for a in waiting],
        "assigned": [assignment_view(a) for a in active],
        "approvals": [handoff_view(h) for h in approvals if h["kind"] == "approval"],
    }


@queues_router.delete(
    "/{queue_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404)
)
async def delete_queue(queue_id: str, request: Request, tenant: TenantDep) -> Response:
    if not await repository(request).delete_queue(tenant, queue_id):
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no queue {queue_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- approvals and takeovers -----------------------------------------------------------------


def handoff_view(doc: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    deadline = _aware(doc.get("deadline"))
    state = doc["status"]
    if state == "open" and deadline is not None and deadline <= (now or datetime.now(UTC)):
        state = "expired"  # the execution took its timeout path
    fields = ("kind", "conversation_id", "execution_id", "node_id", "queue", "agent_id", "reason")
    return {
        "id": doc["_id"],
        **{k: doc.get(k) for k in fields},
        "status": state,
        "subject": doc.get("subject"),
        "approvers": doc.get("approvers") or [],
        "deadline": deadline,
        "decision": doc.get("decision"),
        "created_at": doc.get("created_at"),
    }


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"]
    by: str = Field(pattern=ID, description="The deciding agent's id.")
    note: str | None = Field(default=None, max_length=2000)
    draft: Any = Field(
        default=None, description="Edit and approve: what is approved instead of the draft."
    )


@approvals_router.get("")
async def list_approvals(
    request: Request,
    tenant: TenantDep,
    status_: Annotated[
        Literal["open", "approved", "rejected", "resolved"] | None, Query(alias="status")
    ] = "open",
    approver: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Approval items and takeovers, newest first; `approver` those the agent may decide."""
    docs = await repository(request).handoffs(tenant, status_, limit)
    if approver:
        docs = [d for d in docs if not d.get("approvers") or approver in d["approvers"]]
    return {"approvals": [handoff_view(d) for d in docs]}


@approvals_router.get("/{handoff_id}", responses=problem_responses(404))
async def get_approval(handoff_id: str, request: Request, tenant: TenantDep) -> dict[str, Any]:
    doc = await repository(request).handoff(tenant, handoff_id)
    if doc is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no approval {handoff_id}")
    return handoff_view(doc)


@approvals_router.post(
    "/{handoff_id}/decision", responses=problem_responses(404, 403, 409, *WITH_BODY)
)
async def decide(
    handoff_id: str, body: Decision, request: Request, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    """Approve (with `draft`: edit and approve) or reject; the waiting execution goes on at
    `approved` or `rejected`. 409 once decided or past its deadline; 403 for an agent who is
    not among its approvers."""
    agents = repository(request)
    doc = await agents.handoff(tenant, handoff_id)
    if doc is None or doc.get("kind") != "approval":
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no approval {handoff_id}")
    now = datetime.now(UTC)
    view = handoff_view(doc, now)
    if view["status"] != "open":
        raise ApiProblem(status.HTTP_409_CONFLICT, f"approval {handoff_id} is {view['status']}")
    if doc.get("approvers") and body.by not in doc["approvers"]:
        raise ApiProblem(status.HTTP_403_FORBIDDEN, f"{body.by} is not an approver of this item")
    if not doc.get("approvers") and doc.get("queue"):  # then anyone of its queue decides
        queue = await agents.queue(tenant, doc["queue"])
        if queue is not None and body.by not in (queue.get("members") or []):
            detail = f"{body.by} is not in queue {doc['queue']}, whose agents decide this item"
            raise ApiProblem(status.HTTP_403_FORBIDDEN, detail)
    if await agents.agent(tenant, body.by) is None:
        raise ApiProblem(status.HTTP_422_UNPROCESSABLE_CONTENT, f"by: no agent {body.by}")
    edited = body.decision == "approve" and body.draft is not None
    draft = body.draft if edited else (doc.get("subject") or {}).get("draft")
    outcome = "approved" if body.decision == "approve" else "rejected"
    decision: dict[str, Any] = {
        "decision": outcome,
        "by": body.by,
        "at": now,
        "note": body.note,
        "edited": edited,
        "draft": draft,
    }
    decided = await agents.decide(tenant, handoff_id, decision, outcome)
    if decided is None:
        raise ApiProblem(status.HTTP_409_CONFLICT, f"approval {handoff_id} was decided already")
    await _settle(gw, decided, {**decision, "at": now.isoformat()})
    return handoff_view(decided)


class ReturnToBot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(default=None, pattern=ID, description="The agent giving it back.")
    note: str | None = Field(default=None, max_length=2000)
    port: str | None = Field(
        default=None,
        max_length=100,
        description="Where the waiting handoff goes on, if wired there (default `resolved`).",
    )


@handoff_router.post(
    "/{conversation_id}/return-to-bot", responses=problem_responses(404, *WITH_BODY)
)
async def return_to_bot(
    conversation_id: str, body: ReturnToBot, request: Request, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    """The agent gives the conversation back: it is the bot's again (status `bot`), its agent
    is released, and the execution waiting at its Human Handoff goes on (at `resolved`)."""
    conversation = await gw.conversations.get(tenant, conversation_id)
    if conversation is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no conversation {conversation_id}")
    now = datetime.now(UTC)
    resumed = None
    handoff = conversation.get("handoff") or {}
    if handoff.get("id"):
        decision = {"decision": "resolved", "by": body.by, "at": now, "note": body.note}
        if body.port:
            decision["port"] = body.port
        decided = await repository(request).decide(tenant, handoff["id"], decision, "resolved")
        if decided is not None:
            await _settle(gw, decided, {**decision, "at": now.isoformat()})
            resumed = decided["execution_id"]
    doc = await gw.conversations.update(
        tenant,
        conversation_id,
        {"status": "bot" if resumed else "open", "assignee": None, "handoff": None},
        {},
        add_tags=[],
        remove_tags=[],
    )
    await _routing(
        gw,
        tenant,
        "released",
        conversation_id=conversation_id,
        by=body.by,
        reason="returned to bot",
    )
    return {
        "conversation_id": conversation_id,
        "status": (doc or {}).get("status"),
        "resumed": resumed,
    }


class AgentMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: str = Field(pattern=ID)
    text: str = Field(min_length=1, max_length=4000)
    client_message_id: str | None = Field(
        default=None, pattern=ID, description="Yours: the same id again sends nothing twice."
    )


@handoff_router.post(
    "/{conversation_id}/agent-messages",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(404, *WITH_BODY),
)
async def agent_message(
    conversation_id: str, body: AgentMessage, request: Request, tenant: TenantDep, gw: GatewayDep
) -> dict[str, Any]:
    """An agent's reply, sent on the conversation's channel like the bot's (chat stream, SMS,
    WhatsApp...) and logged in its messages."""
    conversation = await gw.conversations.get(tenant, conversation_id)
    if conversation is None:
        raise ApiProblem(status.HTTP_404_NOT_FOUND, f"no conversation {conversation_id}")
    if await repository(request).agent(tenant, body.agent_id) is None:
        raise ApiProblem(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"agent_id: no agent {body.agent_id}"
        )
    message = body.client_message_id or uuid.uuid4().hex
    key = f"agent:{tenant}:{conversation_id}:{body.agent_id}:{message}"
    channel = str(conversation.get("channel") or "chat")
    addresses = {}
    if conversation.get("tenant_address") and conversation.get("contact_address"):
        addresses = {
            "contact_address": conversation["contact_address"],
            "tenant_address": conversation["tenant_address"],
        }
    request_ = NotificationRequested(
        idempotency_key=key,
        execution_id=f"agent:{body.agent_id}",
        tenant_id=tenant,
        effect_id=f"agent:{message}",
        node_id="agent",
        kind="action.send_reply",
        channel=channel,
        conversation_id=conversation_id,
        request={"message": body.text, "author": {"type": "agent", "id": body.agent_id}},
        awaits_result=False,
        **addresses,
    )
    await _publish(gw, request_, topics.NOTIFICATION_REQUESTS, conversation_id, tenant)
    return {"conversation_id": conversation_id, "idempotency_key": key, "channel": channel}


# -- to the router and the executor ------------------------------------------------------------


async def _routing(
    gw: GatewayDep,
    tenant: str,
    change: Literal["released", "agent_available", "queue_changed"],
    *,
    conversation_id: str | None = None,
    agent_id: str | None = None,
    by: str | None = None,
    reason: str = "",
) -> None:
    event = RoutingChanged(
        change_id="chg_" + uuid.uuid4().hex,
        tenant_id=tenant,
        change=change,
        conversation_id=conversation_id,
        agent_id=agent_id,
        by=by,
        reason=reason,
        at=datetime.now(UTC),
    )
    await _publish(gw, event, topics.AGENT_ROUTING, tenant, tenant)


async def released(gw: GatewayDep, tenant: str, conversation_id: str, reason: str) -> None:
    """A conversation the API took from its agent (closed, back to open): its assignment ends."""
    await _routing(gw, tenant, "released", conversation_id=conversation_id, reason=reason)


async def _settle(gw: GatewayDep, handoff: dict[str, Any], result: dict[str, Any]) -> None:
    settled = EffectSettled(
        command_id="decision:" + handoff["_id"],
        execution_id=handoff["execution_id"],
        tenant_id=handoff["tenant_id"],
        effect_id=handoff["effect_id"],
        idempotency_key=handoff["idempotency_key"],
        result=result,
    )
    await _publish(
        gw, settled, topics.EXECUTION_COMMANDS, handoff["execution_id"], handoff["tenant_id"]
    )


async def _publish(gw: GatewayDep, event: Event, topic: str, key: str, tenant: str) -> None:
    envelope = Envelope.wrap(event, source=SOURCE, tenant_id=tenant, **current_trace())
    await gw.broker.publish(envelope.body(), topic, key.encode(), envelope.headers())


def _aware(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
