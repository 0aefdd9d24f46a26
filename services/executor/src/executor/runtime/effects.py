"""Effects to decisions: which service carries out a request, and the runtime's own timers.

Every request carries the idempotency key ``execution_id:effect_id`` (the effect id is
``node:activation:attempt``, so this is ``execution_id:node_id:...:attempt``). The runtime also
asks the scheduler for timers of its own, told apart by their effect id prefix:
``delay:`` (retry back-off before a request goes out), ``deadline:`` (the waiting time limit)
and ``reply-timeout:`` (Wait for Reply's timeout). Nothing here changes the execution
document: each function reads what it needs and returns what to publish, which timers to
track, what to hold back and what the service must do; ``step`` applies it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from contracts import Envelope, topics
from contracts.events import (
    EffectSettled,
    IntegrationRequested,
    NotificationRequested,
    RoutingChanged,
    TimerCancelRequested,
    TimerRequested,
)

from executor.runtime import engine_port
from executor.runtime.engine_port import EffectTarget
from executor.runtime.outbox import SOURCE, Message, outbox_entry

Document = dict[str, Any]
Execution = Mapping[str, Any]  # the execution document, read only
DELAY = "delay:"
DEADLINE = "deadline:"
REPLY_TIMEOUT = "reply-timeout:"
EXECUTE_WORKFLOW = "advanced.execute_workflow"
WAIT_FOR_REPLY = "advanced.wait_for_reply"


@dataclass(frozen=True)
class StartChild:
    """Create (idempotently) and start the child execution of an Execute Workflow node."""

    child_id: str
    workflow_id: str
    input: dict[str, Any]
    depth: int
    parent_effect_id: str
    wait: bool


@dataclass(frozen=True)
class AwaitReply:
    """Register that ``effect_id`` waits for the conversation's next customer message."""

    conversation_id: str
    effect_id: str


@dataclass(frozen=True)
class ReleaseReplies:
    """Forget this execution's reply waits (one effect's, or all with None)."""

    effect_id: str | None


@dataclass(frozen=True)
class TagConversation:
    """Add and remove tags of the conversation (Add Tag, Remove Tag)."""

    conversation_id: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class CloseConversation:
    """End Chat: the conversation closed with its resolution."""

    conversation_id: str
    resolution: str


Action = StartChild | AwaitReply | ReleaseReplies | TagConversation | CloseConversation


@dataclass
class Request:
    """What one effect becomes."""

    messages: list[Message] = field(default_factory=list)  # published with the command
    timers: list[str] = field(default_factory=list)  # keys of timers asked for, to track
    held: tuple[str, Document] | None = None  # (effect id, entry) held until its delay: timer
    action: Action | None = None  # done in MongoDB before the state is written
    answer: tuple[str, dict[str, Any] | None] | None = None  # the path may go on at once
    # on a phone call: what it says and does (TwiML verbs), and whether that ends the turn
    # (the caller then hears it: docs/architecture.md, *Voice*)
    voice: list[Document] = field(default_factory=list)
    ends_turn: bool = False


def child_execution_id(parent_id: str, effect_id: str) -> str:
    """Deterministic: a redelivered command finds the child it started before."""
    return "exe_" + hashlib.sha256(f"{parent_id}|{effect_id}".encode()).hexdigest()[:24]


def key(doc: Execution, effect_id: str) -> str:
    """The idempotency key of one of ``doc``'s effects (and of its timer)."""
    return f"{doc['_id']}:{effect_id}"


def request(
    doc: Execution, effect: engine_port.Effect, now: Callable[[], datetime], max_depth: int
) -> Request:
    """What ``effect`` becomes: a request to another service, or work of the executor's own."""
    if doc.get("call") and effect.kind in VOICE_KINDS:
        return _on_the_call(effect)
    if effect.target is EffectTarget.EXECUTOR:
        return _executor_effect(doc, effect, now, max_depth)
    if effect.kind == HUMAN_HANDOFF and effect.request.get("timeoutSeconds"):
        # The decision's deadline: the path takes its timeout port when nobody decided. The
        # request carries the same instant, so the handoff is expired when the timer fires.
        fire_at = now() + timedelta(seconds=float(effect.request["timeoutSeconds"]))
        dated = replace(effect, request={**effect.request, "deadline": fire_at.isoformat()})
        message, timers = _to_service(doc, dated, now)
        deadline = timer(doc, REPLY_TIMEOUT + effect.effect_id, fire_at)
        return Request([message, deadline], [*timers, key(doc, REPLY_TIMEOUT + effect.effect_id)])
    message, timers = _to_service(doc, effect, now)
    answer = None if effect.awaits_result else (effect.effect_id, None)
    if effect.delay_seconds <= 0:
        return Request([message], timers, answer=answer)
    # A retry: the request goes out when the back-off ends (sent as an entry, no trace).
    envelope = Envelope.wrap(message.event, source=SOURCE, tenant_id=doc["tenant_id"])
    held = (effect.effect_id, outbox_entry(message.topic, doc["_id"], envelope))
    fire_at = now() + timedelta(seconds=effect.delay_seconds)
    delay = timer(doc, DELAY + effect.effect_id, fire_at)
    return Request([delay], [*timers, key(doc, DELAY + effect.effect_id)], held, answer=answer)


def _to_service(
    doc: Execution, effect: engine_port.Effect, now: Callable[[], datetime]
) -> tuple[Message, list[str]]:
    common: dict[str, Any] = {
        "idempotency_key": key(doc, effect.effect_id),
        "execution_id": doc["_id"],
        "tenant_id": doc["tenant_id"],
        "effect_id": effect.effect_id,
        "node_id": effect.node_id,
    }
    if effect.target is EffectTarget.NOTIFIER:
        channel = effect.request.get("channel") or doc.get("channel") or "chat"
        notification = NotificationRequested(
            **common,
            kind=effect.kind,
            channel=str(channel),
            conversation_id=doc.get("conversation_id"),
            request=effect.request,
            awaits_result=effect.awaits_result,
            **_addresses(doc, str(channel)),
        )
        if effect.kind in ROUTED_KINDS:
            # decided by the agent router, one consumer per tenant (keyed by tenant)
            return Message(topics.AGENT_ROUTING, notification, key=doc["tenant_id"]), []
        return Message(topics.NOTIFICATION_REQUESTS, notification), []
    if effect.target is EffectTarget.SCHEDULER:
        requested = TimerRequested(**common, fire_at=_fire_at(effect.request, now))
        return Message(topics.TIMER_REQUESTS, requested), [common["idempotency_key"]]
    integration = IntegrationRequested(
        **common, kind=effect.kind, request=effect.request, workflow_id=doc.get("workflow_id")
    )
    return Message(topics.INTEGRATION_REQUESTS, integration), []


def _executor_effect(
    doc: Execution, effect: engine_port.Effect, now: Callable[[], datetime], max_depth: int
) -> Request:
    if effect.kind == WAIT_FOR_REPLY:
        conversation = str(effect.request.get("conversationId") or doc["_id"])
        wait = Request(action=AwaitReply(conversation, effect.effect_id))
        prompt = effect.request.get("prompt")
        if doc.get("call"):  # the caller is asked: <Gather> ends the turn
            timeout = effect.request.get("timeout_seconds")
            wait.voice = [*([{"say": {"text": str(prompt)}}] if prompt else [])]
            wait.voice.append({"gather": {"timeout_seconds": min(int(timeout or 5), 60)}})
            wait.ends_turn = True
        elif prompt:  # a re-prompt: said on the conversation's channel, then waited for
            wait.messages.append(_prompt(doc, effect, str(prompt)))
        timeout = effect.request.get("timeout_seconds")
        if timeout:
            timeout_id = REPLY_TIMEOUT + effect.effect_id
            wait.messages.append(timer(doc, timeout_id, now() + timedelta(seconds=float(timeout))))
            wait.timers.append(key(doc, timeout_id))
        return wait
    if effect.kind in CONVERSATION_KINDS:
        return _on_conversation(doc, effect, now)
    if effect.kind != EXECUTE_WORKFLOW:
        raise ValueError(f"no executor-side handling for {effect.kind}")
    depth = int(doc.get("depth", 0)) + 1
    if depth > max_depth:
        return Request([_refusal(doc, effect, f"sub-workflow depth limit of {max_depth} reached")])
    child_id = child_execution_id(doc["_id"], effect.effect_id)
    wait_for_it = bool(effect.request.get("waitForCompletion", True))
    start = StartChild(
        child_id=child_id,
        workflow_id=str(effect.request["workflowId"]),
        input=dict(effect.request.get("input") or {}),
        depth=depth,
        parent_effect_id=effect.effect_id,
        wait=wait_for_it,
    )
    answer = None if wait_for_it else (effect.effect_id, {"executionId": child_id})
    return Request(action=start, answer=answer)


SEND_REPLY = "action.send_reply"
ADD_TAG, REMOVE_TAG, END_CHAT = "action.add_tag", "action.remove_tag", "action.end_chat"
ASSIGN_AGENT, HUMAN_HANDOFF = "action.assign_agent", "advanced.human_handoff"
VOICE_KINDS = frozenset({SEND_REPLY, END_CHAT, ASSIGN_AGENT})
CONVERSATION_KINDS = frozenset({ADD_TAG, REMOVE_TAG, END_CHAT})
ROUTED_KINDS = frozenset({ASSIGN_AGENT, HUMAN_HANDOFF})


def _on_conversation(
    doc: Execution, effect: engine_port.Effect, now: Callable[[], datetime]
) -> Request:
    """Tags and End Chat change the execution's conversation, written with the batch's other
    writes of it; the path goes on at once. End Chat also says its goodbye on the
    conversation's channel and tells the agent router, which releases the conversation's
    agent and cancels the bot's other runs in it."""
    request = effect.request
    conversation = doc.get("conversation_id")
    if effect.kind in (ADD_TAG, REMOVE_TAG):
        tags = tuple(str(t) for t in request.get("tags") or ())
        result: Document = {"tags": list(tags), "conversationId": conversation}
        if conversation is None:
            return Request(answer=(effect.effect_id, {**result, "status": "no_conversation"}))
        action = (
            TagConversation(conversation, add=tags)
            if effect.kind == ADD_TAG
            else TagConversation(conversation, remove=tags)
        )
        return Request(action=action, answer=(effect.effect_id, result))
    resolution = str(request.get("status") or "resolved")
    result = {"status": "closed", "resolution": resolution, "conversationId": conversation}
    if conversation is None:
        return Request(answer=(effect.effect_id, {**result, "status": "no_conversation"}))
    messages = []
    if request.get("message"):
        messages.append(_prompt(doc, effect, str(request["message"])))
    closed = RoutingChanged(
        change_id=f"closed:{key(doc, effect.effect_id)}",
        tenant_id=doc["tenant_id"],
        change="released",
        conversation_id=conversation,
        reason=f"closed by End Chat ({resolution})",
        by=doc["_id"],
        cancel_runs=True,
        at=now(),
    )
    messages.append(Message(topics.AGENT_ROUTING, closed, key=doc["tenant_id"]))
    return Request(
        messages,
        action=CloseConversation(conversation, resolution),
        answer=(effect.effect_id, result),
    )


def _on_the_call(effect: engine_port.Effect) -> Request:
    """A reply, a goodbye or a handoff on a phone call: TwiML verbs of the call's turn, done
    by the executor itself (the gateway answers Twilio with them), the path going on at once."""
    request = effect.request
    verbs: list[Document] = []
    text = request.get("message")
    if text:
        verbs.append({"say": {"text": str(text)}})
    ends_turn = effect.kind != SEND_REPLY
    result: Document = {"channel": "voice", "status": "said"}
    if effect.kind == "action.end_chat":
        verbs.append({"hangup": {}})
        result["status"] = "hung_up"
    elif ends_turn:  # an agent takes the call: it waits in the queue Twilio holds for them
        queue = str(request.get("queue") or request.get("agentId") or "support")
        verbs.append({"enqueue": {"queue": queue}})
        result.update(status="enqueued", queue=queue)
    return Request(answer=(effect.effect_id, result), voice=verbs, ends_turn=ends_turn)


def _prompt(doc: Execution, effect: engine_port.Effect, text: str) -> Message:
    """Wait for Reply's re-prompt, delivered as a Send Reply that nothing waits for."""
    notification = NotificationRequested(
        idempotency_key=key(doc, effect.effect_id),
        execution_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        effect_id=effect.effect_id,
        node_id=effect.node_id,
        kind=SEND_REPLY,
        channel=str(doc.get("channel") or "chat"),
        conversation_id=doc.get("conversation_id"),
        request={"message": text},
        awaits_result=False,
        **_addresses(doc, str(doc.get("channel") or "chat")),
    )
    return Message(topics.NOTIFICATION_REQUESTS, notification)


def _addresses(doc: Execution, channel: str) -> dict[str, str]:
    """The conversation's addresses, for a message on the channel it came on."""
    if channel != doc.get("channel") or not doc.get("tenant_address"):
        return {}
    return {"contact_address": doc["contact_address"], "tenant_address": doc["tenant_address"]}


def _refusal(doc: Execution, effect: engine_port.Effect, message: str) -> Message:
    """Answer an effect with an error in a command to ourselves (the path sees it next)."""
    refused = EffectSettled(
        command_id=f"refused:{key(doc, effect.effect_id)}",
        execution_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        effect_id=effect.effect_id,
        idempotency_key=key(doc, effect.effect_id),
        error={"type": "SubWorkflowRefused", "message": message},
    )
    return Message(topics.EXECUTION_COMMANDS, refused)


def _fire_at(request: dict[str, Any], now: Callable[[], datetime]) -> datetime:
    if "until" in request:
        return datetime.fromisoformat(str(request["until"]))
    return now() + timedelta(seconds=float(request.get("delay_seconds", 0)))


# -- timers ---------------------------------------------------------------------------------


def timer(doc: Execution, effect_id: str, fire_at: datetime) -> Message:
    """One of the runtime's own timers (its key, ``key(doc, effect_id)``, is to be tracked)."""
    requested = TimerRequested(
        idempotency_key=key(doc, effect_id),
        execution_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        effect_id=effect_id,
        node_id=effect_id.split(":")[1] if ":" in effect_id else effect_id,
        fire_at=fire_at,
    )
    return Message(topics.TIMER_REQUESTS, requested)


def timer_cancel(doc: Execution, timer_key: str) -> Message:
    cancel = TimerCancelRequested(
        idempotency_key=timer_key, execution_id=doc["_id"], tenant_id=doc["tenant_id"]
    )
    return Message(topics.TIMER_REQUESTS, cancel)


def timers_of(doc: Execution, effect_id: str) -> tuple[str, ...]:
    """The keys of every timer an effect may have: its own, its back-off, its reply timeout."""
    return tuple(
        key(doc, timer) for timer in (effect_id, DELAY + effect_id, REPLY_TIMEOUT + effect_id)
    )


def released(entry: Document, now: datetime) -> Document:
    """A held-back request as it goes out: its CloudEvents time says when (its id stays)."""
    return {**entry, "headers": {**entry["headers"], "ce_time": now.isoformat()}}


# -- sub-workflows --------------------------------------------------------------------------


def parent_answer(
    doc: Execution, status: str, variables: dict[str, Any] | None, error: dict[str, Any] | None
) -> Message | None:
    """A child that ends answers the Execute Workflow node waiting in its parent."""
    parent = doc.get("parent")
    if not parent or not parent.get("wait"):
        return None
    answer = EffectSettled(
        command_id=f"child:{doc['_id']}:{status}",
        execution_id=parent["execution_id"],
        tenant_id=doc["tenant_id"],
        effect_id=parent["effect_id"],
        idempotency_key=f"{parent['execution_id']}:{parent['effect_id']}",
        result=None
        if error
        else {"executionId": doc["_id"], "status": status, **(variables or {})},
        error=None
        if not error
        else {"type": "SubWorkflowFailed", "executionId": doc["_id"], **error},
    )
    return Message(topics.EXECUTION_COMMANDS, answer, key=parent["execution_id"])
