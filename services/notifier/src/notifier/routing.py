"""The agent router: Assign Agent and Human Handoff requests, and the changes that free agents,
decided one tenant at a time (docs/architecture.md, *Agents, assignment and handoff*).

Per batch and tenant: one read of the tenant's board (agents, queues, active and queued
assignments, routing state) and of the batch's earlier assignments and handoffs (a redelivered
request is answered as the first time and assigns nothing), the requests decided in order on
the board, then the conversations waiting in queues that now fit (priority, then age); one
round of writes, then one round of publishes: the executions' answers (EffectSettled), the
cancellation of the bot's other runs of a conversation an agent takes over."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Envelope, topics
from contracts.conversations import conversation_ref
from contracts.envelope import NO_TRACE, TraceContext
from contracts.events import (
    ConversationAssigned,
    EffectSettled,
    Event,
    ExecutionCancelRequested,
    NotificationRequested,
    RoutingChanged,
)
from servicekit.publisher import Publish
from servicekit.telemetry import consuming, current_trace

from notifier.adapters.agents import AgentBoardStore
from notifier.domain.errors import DeliveryError
from notifier.domain.routing import (
    ACTIVE,
    QUEUED,
    RELEASED,
    STRATEGIES,
    Agent,
    Ask,
    Board,
    in_turn,
    priority_of,
)
from notifier.publishing import Announce, Outgoing, nobody, publish_all
from notifier.telemetry import ASSIGNMENTS, tracer

Document = dict[str, Any]
ASSIGN_AGENT = "action.assign_agent"
HUMAN_HANDOFF = "advanced.human_handoff"
GROUP = "notifier-routing"
QUEUE_UNKNOWN = "QueueUnknown"


def assignment_id(idempotency_key: str) -> str:
    return "asg_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def handoff_id(idempotency_key: str) -> str:
    return "hnd_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


@dataclass
class _TenantBatch:
    """What one tenant's part of a batch decides, then writes and publishes."""

    tenant_id: str
    board: Board
    agent_docs: dict[str, Document]
    queued: dict[str, Document]
    active: dict[str, Document]
    inserted: list[Document] = field(default_factory=list)
    updated: dict[str, Document] = field(default_factory=dict)
    handoffs: list[Document] = field(default_factory=list)
    conversations: dict[str, Document] = field(default_factory=dict)
    last_assigned: dict[str, datetime] = field(default_factory=dict)
    asked: dict[str, Document] = field(default_factory=dict)  # this batch's new assignments
    outgoing: list[Outgoing] = field(default_factory=list)


class AgentRouter:
    def __init__(
        self, store: AgentBoardStore, publish: Publish, announce: Announce = nobody
    ) -> None:
        self._store = store
        self._publish = publish
        self._announce = announce  # the tenants' webhooks: conversation.assigned

    async def on_batch(self, envelopes: list[Envelope[Event]]) -> None:
        by_tenant: dict[str, list[Envelope[Event]]] = {}
        for envelope in envelopes:
            event = envelope.data
            assert isinstance(event, NotificationRequested | RoutingChanged)
            by_tenant.setdefault(event.tenant_id, []).append(envelope)
        for tenant_id, items in by_tenant.items():
            await self._tenant(tenant_id, items)

    async def _tenant(self, tenant_id: str, envelopes: Sequence[Envelope[Event]]) -> None:
        now = datetime.now(UTC)
        requests = [e for e in envelopes if isinstance(e.data, NotificationRequested)]
        keys = [e.data.idempotency_key for e in requests]  # type: ignore[attr-defined]
        (agents, queues, active, queued, state), earlier, opened = await asyncio.gather(
            self._store.board(tenant_id),
            self._store.assignments(assignment_id(k) for k in keys),
            self._store.handoffs(handoff_id(k) for k in keys),
        )
        last = (state[0].get("last_assigned") or {}) if state else {}
        work = _TenantBatch(
            tenant_id,
            Board.of(agents, queues, active, last),
            agent_docs={str(a["agent_id"]): a for a in agents},
            queued={q["_id"]: q for q in queued},
            active={a["_id"]: a for a in active},
        )
        # (trace, conversation, the run that stays, why): the bot's other runs are cancelled
        stops: list[tuple[TraceContext, str, str | None, str]] = []
        for envelope in envelopes:
            event = envelope.data
            trace = _trace_of(envelope)
            if isinstance(event, RoutingChanged):
                self._changed(work, event, now)
                if event.cancel_runs and event.conversation_id:
                    stops.append((trace, event.conversation_id, event.by, event.change_id))
            elif isinstance(event, NotificationRequested):
                aid, hid = assignment_id(event.idempotency_key), handoff_id(event.idempotency_key)
                again = aid in work.asked or any(h["_id"] == hid for h in work.handoffs)
                if aid in earlier or hid in opened or again:
                    self._again(work, event, earlier.get(aid) or work.asked.get(aid), trace)
                    continue
                assigned = self._request(work, event, now, trace)
                if assigned is not None and event.conversation_id:
                    stops.append(
                        (trace, event.conversation_id, event.execution_id, assigned["_id"])
                    )
        self._drain(work, now)
        if stops:
            await self._stop_bot_runs(work, stops)
        await self._store.write(
            tenant_id,
            inserted=work.inserted,
            updated=work.updated,
            handoffs=work.handoffs,
            conversations=work.conversations,
            last_assigned=work.last_assigned,
        )
        await publish_all(self._publish, work.outgoing)
        await self._announce(work.outgoing)

    # -- requests ------------------------------------------------------------------------

    def _request(
        self, work: _TenantBatch, request: NotificationRequested, now: datetime, trace: TraceContext
    ) -> Document | None:
        """An Assign Agent (answered at once: assigned or queued) or a Human Handoff (a
        takeover: assigned like Assign Agent, answered when the agent gives the conversation
        back; an approval: an item for approvers, answered by their decision)."""
        rendered = request.request
        if request.kind == HUMAN_HANDOFF and rendered.get("requireApproval"):
            work.handoffs.append(_approval(request, now))
            ASSIGNMENTS.labels("approval").inc()
            return None
        ask = _ask(request)
        if ask.queue and ask.queue not in work.board.queues and ask.strategy != "specific":
            refusal = f"the tenant has no queue {ask.queue!r}"
            error = DeliveryError(QUEUE_UNKNOWN, refusal, retryable=False).for_workflow()
            if request.kind == ASSIGN_AGENT:
                work.outgoing.append(_settle(request, None, error, trace))
            ASSIGNMENTS.labels("refused").inc()
            return None
        assignment = _assignment(request, ask, now)
        work.asked[assignment["_id"]] = assignment  # twice in one batch: decided once
        if request.conversation_id:  # assigned again: the earlier assignment ends
            self._release(work, request.conversation_id, "reassigned", assignment["_id"], now)
        if request.kind == HUMAN_HANDOFF:
            handoff = _takeover(request, assignment, now)
            assignment["handoff_id"] = handoff["_id"]
            work.handoffs.append(handoff)
        choice = work.board.choose(ask)
        assignment["reason"] = choice.reason
        if choice.agent is not None:
            self._activate(work, assignment, choice.agent, now, trace)
        else:
            work.queued[assignment["_id"]] = assignment
        work.inserted.append(assignment)
        ref = conversation_ref(request.tenant_id, request.conversation_id or "")
        if request.conversation_id:
            fields = work.conversations.setdefault(ref, {})
            fields.update(
                status="with_agent",
                queue=ask.queue,
                assignment=_on_conversation(assignment),
                assignee=assignment.get("agent_id"),
                updated_at=now,
            )
            if request.kind == HUMAN_HANDOFF:
                fields["handoff"] = {
                    "id": assignment["handoff_id"],
                    "execution_id": request.execution_id,
                    "effect_id": request.effect_id,
                }
        if request.kind == ASSIGN_AGENT:
            work.outgoing.append(_settle(request, _result(assignment), None, trace))
        return assignment

    def _again(
        self,
        work: _TenantBatch,
        request: NotificationRequested,
        assignment: Document | None,
        trace: TraceContext,
    ) -> None:
        """A redelivered request: answered from what it became (an Assign Agent's assignment);
        a handoff waits for its decision, as the first time."""
        ASSIGNMENTS.labels("duplicate").inc()
        if request.kind == ASSIGN_AGENT and assignment is not None:
            work.outgoing.append(_settle(request, _result(assignment), None, trace))

    def _changed(self, work: _TenantBatch, change: RoutingChanged, now: datetime) -> None:
        if change.change != "released" or not change.conversation_id:
            return  # an agent or a queue changed: the drain below tries the queues again
        # only what was asked before the change: a later assignment is not what it released
        self._release(
            work, change.conversation_id, change.reason, change.change_id, now, before=change.at
        )

    def _release(
        self,
        work: _TenantBatch,
        conversation_id: str,
        reason: str,
        by: str,
        now: datetime,
        *,
        before: datetime | None = None,
    ) -> None:
        """The conversation's assignment (active or still queued) ends: its agent's place
        frees up, and the conversation shows it released."""
        for held in (work.active, work.queued):
            for assignment in list(held.values()):
                if assignment.get("conversation_id") != conversation_id:
                    continue
                if before is not None and _aware(assignment["requested_at"]) > before:
                    continue
                del held[assignment["_id"]]
                work.board.release(assignment.get("agent_id"))
                released = {
                    "status": RELEASED,
                    "released_at": now,
                    "release_reason": reason,
                    "released_by": by,
                }
                _update(work, assignment, released)
                ref = conversation_ref(work.tenant_id, conversation_id)
                fields = work.conversations.setdefault(ref, {})
                if fields.get("assignment", {}).get("id") in (None, assignment["_id"]):
                    fields["assignment"] = _on_conversation(assignment)
                ASSIGNMENTS.labels("released").inc()

    def _drain(self, work: _TenantBatch, now: datetime) -> None:
        """Queued conversations that fit now get their agent, highest priority first."""
        for assignment in in_turn(work.queued.values()):
            choice = work.board.choose(Ask.of(assignment))
            if choice.agent is None:
                continue
            del work.queued[assignment["_id"]]
            # a request of an earlier batch: its trace is not at hand
            self._activate(work, assignment, choice.agent, now, NO_TRACE, reason=choice.reason)
            ref = conversation_ref(work.tenant_id, assignment.get("conversation_id") or "")
            if assignment.get("conversation_id"):
                work.conversations.setdefault(ref, {}).update(
                    assignee=choice.agent.id,
                    assignment=_on_conversation(assignment),
                    updated_at=now,
                )

    def _activate(
        self,
        work: _TenantBatch,
        assignment: Document,
        agent: Agent,
        now: datetime,
        trace: TraceContext,
        *,
        reason: str | None = None,
    ) -> None:
        work.board.take(agent, now)
        work.last_assigned[agent.id] = now
        fields: Document = {
            "status": ACTIVE,
            "agent_id": agent.id,
            "agent_name": agent.name,
            "assigned_at": now,
        }
        if reason is not None:
            fields["reason"] = reason
        _update(work, assignment, fields)
        work.active[assignment["_id"]] = assignment
        ASSIGNMENTS.labels("assigned").inc()
        work.outgoing += _told(assignment, work.agent_docs.get(agent.id) or {}, trace)

    async def _stop_bot_runs(
        self, work: _TenantBatch, stops: list[tuple[TraceContext, str, str | None, str]]
    ) -> None:
        """An agent took the conversation (Assign Agent, a takeover) or it closed: the bot's
        other runs in it are cancelled, their pending sends and timers with them (the run
        that asked goes on: a takeover's waits for the agent to give the conversation back)."""
        refs = {conversation_ref(work.tenant_id, conversation) for _, conversation, _, _ in stops}
        found = await self._store.conversations(refs)
        for trace, conversation, keep, why in stops:
            runs = (found.get(conversation_ref(work.tenant_id, conversation)) or {}).get(
                "active_runs"
            ) or {}
            for run in sorted(set(runs.values()) - {keep}):
                cancel = ExecutionCancelRequested(
                    command_id=f"agent:{why}:{run}",
                    execution_id=run,
                    tenant_id=work.tenant_id,
                    reason="the conversation closed"
                    if why.startswith("closed:")
                    else "an agent took the conversation over",
                )
                work.outgoing.append(
                    Outgoing(topics.EXECUTION_COMMANDS, run, cancel, work.tenant_id, trace)
                )


def _told(assignment: Document, agent: Document, trace: TraceContext) -> list[Outgoing]:
    """The assignment made public (ConversationAssigned: the tenant's webhooks get it), and
    the agent told on their own channel when they have one (``notify``: Slack, Teams or
    email), as the notifier sends those for workflows."""
    conversation = assignment.get("conversation_id")
    if not conversation:
        return []
    tenant = assignment["tenant_id"]
    event = ConversationAssigned(
        assignment_id=assignment["_id"],
        tenant_id=tenant,
        conversation_id=conversation,
        agent_id=assignment["agent_id"],
        agent_name=assignment.get("agent_name") or assignment["agent_id"],
        queue=assignment.get("queue"),
        reason=assignment.get("reason") or "",
        priority=int(assignment.get("priority") or 0),
        execution_id=assignment["execution_id"],
        assigned_at=assignment["assigned_at"],
    )
    out = [Outgoing(topics.CONVERSATIONS, conversation, event, tenant, trace)]
    notice = agent_notice(assignment, agent)
    if notice is not None:
        out.append(
            Outgoing(topics.NOTIFICATION_REQUESTS, notice.execution_id, notice, tenant, trace)
        )
    return out


def agent_notice(assignment: Document, agent: Document) -> NotificationRequested | None:
    """What tells ``agent`` of ``assignment`` on their channel (``notify.channel``: slack with
    ``notify.target`` a channel or user id, teams with ``notify.target`` a webhook name, email
    to the agent's address); None for none (the tenant's webhooks still get the event)."""
    notify = agent.get("notify") or {}
    channel = notify.get("channel")
    text = (
        f"Conversation {assignment['conversation_id']} is yours"
        + (f" (queue {assignment['queue']})" if assignment.get("queue") else "")
        + f": {assignment.get('reason') or ''}"
    )
    request: Document
    if channel == "slack" and notify.get("target"):
        kind = "integration.slack"
        params = {"channel": notify["target"], "text": text}
        request = {"integration": "slack", "action": "postMessage", "params": params}
    elif channel == "teams":
        kind = "integration.teams"
        params = {"text": text, "title": "New conversation"}
        if notify.get("target"):
            params["webhook"] = notify["target"]
        request = {"integration": "teams", "action": "postMessage", "params": params}
    elif channel == "email" and (notify.get("target") or agent.get("email")):
        kind = "action.send_email"
        to = [notify.get("target") or agent["email"]]
        request = {"to": to, "subject": "A conversation is yours", "body": text}
    else:
        return None
    return NotificationRequested(
        idempotency_key=f"assigned:{assignment['_id']}",
        execution_id=assignment["execution_id"],
        tenant_id=assignment["tenant_id"],
        effect_id=f"notify:{assignment['_id']}",
        node_id="agent-notify",
        kind=kind,
        channel=str(channel),
        conversation_id=None,
        request=request,
        awaits_result=False,
    )


def _update(work: _TenantBatch, assignment: Document, fields: Document) -> None:
    assignment.update(fields)
    if any(doc is assignment for doc in work.inserted):
        return  # inserted with them
    work.updated.setdefault(assignment["_id"], {}).update(fields)


def _ask(request: NotificationRequested) -> Ask:
    rendered = request.request
    strategy = str(rendered.get("strategy") or "round_robin")
    return Ask(
        queue=_text(rendered.get("queue")),
        agent_id=_text(rendered.get("agentId")),
        strategy=strategy if strategy in STRATEGIES else "round_robin",
        skills=frozenset(str(s).lower() for s in rendered.get("skills") or ()),
        languages=frozenset(str(s).lower() for s in rendered.get("languages") or ()),
        channel=request.channel,
        priority=priority_of(rendered),
    )


def _assignment(request: NotificationRequested, ask: Ask, now: datetime) -> Document:
    return {
        "_id": assignment_id(request.idempotency_key),
        "tenant_id": request.tenant_id,
        "idempotency_key": request.idempotency_key,
        "kind": "handoff" if request.kind == HUMAN_HANDOFF else "assign",
        "conversation_id": request.conversation_id,
        "execution_id": request.execution_id,
        "effect_id": request.effect_id,
        "node_id": request.node_id,
        "queue": ask.queue,
        "requested_agent_id": ask.agent_id,
        "strategy": ask.strategy,
        "skills": sorted(ask.skills),
        "languages": sorted(ask.languages),
        "channel": ask.channel,
        "priority": ask.priority,
        "status": QUEUED,
        "agent_id": None,
        "requested_at": now,
    }


def _handoff(request: NotificationRequested, kind: str, now: datetime) -> Document:
    rendered = request.request
    timeout = rendered.get("timeoutSeconds")
    return {
        "_id": handoff_id(request.idempotency_key),
        "tenant_id": request.tenant_id,
        "kind": kind,
        "status": "open",
        "conversation_id": request.conversation_id,
        "execution_id": request.execution_id,
        "effect_id": request.effect_id,
        "node_id": request.node_id,
        "idempotency_key": request.idempotency_key,
        "queue": _text(rendered.get("queue")),
        "agent_id": _text(rendered.get("agentId")),
        "reason": str(rendered.get("reason") or ""),
        "deadline": _deadline(rendered.get("deadline"), timeout, now),
        "created_at": now,
    }


def _deadline(stated: Any, timeout: Any, now: datetime) -> datetime | None:
    """The instant the executor's timer fires (it sends it), so the handoff is expired by then;
    from the timeout when a request carries none."""
    if isinstance(stated, str):
        try:
            at = datetime.fromisoformat(stated)
        except ValueError:
            at = None
        if at is not None:
            return at if at.tzinfo else at.replace(tzinfo=UTC)
    return now + timedelta(seconds=float(timeout)) if timeout else None


def _approval(request: NotificationRequested, now: datetime) -> Document:
    rendered = request.request
    handoff = _handoff(request, "approval", now)
    handoff.update(
        subject=rendered.get("approval") or {},
        approvers=[str(a) for a in rendered.get("approvers") or ()],
    )
    return handoff


def _takeover(request: NotificationRequested, assignment: Document, now: datetime) -> Document:
    handoff = _handoff(request, "takeover", now)
    handoff["assignment_id"] = assignment["_id"]
    return handoff


def _on_conversation(assignment: Document) -> Document:
    """What the conversation shows of its assignment."""
    return {
        "id": assignment["_id"],
        "agent_id": assignment.get("agent_id"),
        "queue": assignment.get("queue"),
        "status": assignment["status"],
        "reason": assignment.get("reason"),
        "priority": assignment.get("priority"),
        "at": assignment.get("assigned_at") or assignment["requested_at"],
    }


def _result(assignment: Document) -> Document:
    at = assignment.get("assigned_at") or assignment["requested_at"]
    return {
        "assignmentId": assignment["_id"],
        "status": "assigned" if assignment.get("agent_id") else "queued",
        "agentId": assignment.get("agent_id"),
        "agentName": assignment.get("agent_name"),
        "queue": assignment.get("queue"),
        "reason": assignment.get("reason"),
        "priority": assignment.get("priority"),
        "at": at.isoformat() if isinstance(at, datetime) else str(at),
    }


def _settle(
    request: NotificationRequested,
    result: Document | None,
    error: Document | None,
    trace: TraceContext,
) -> Outgoing:
    settled = EffectSettled.answering(request, result=result, error=error)
    return Outgoing(
        topics.EXECUTION_COMMANDS, request.execution_id, settled, request.tenant_id, trace
    )


def _trace_of(envelope: Envelope[Event]) -> TraceContext:
    with consuming(tracer, topics.AGENT_ROUTING, envelope, group=GROUP):
        return current_trace()


def _aware(moment: datetime) -> datetime:
    """MongoDB's datetimes come back naive (UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None
