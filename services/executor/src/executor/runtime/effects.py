"""Effects to messages: which service carries out a request, and the runtime's own timers.

Every request carries the idempotency key ``execution_id:effect_id`` (the effect id is
``node:activation:attempt``, so this is ``execution_id:node_id:...:attempt``). The runtime also
asks the scheduler for timers of its own, told apart by their effect id prefix:
``delay:`` (retry back-off before a request goes out), ``deadline:`` (the waiting time limit)
and ``reply-timeout:`` (Wait for Reply's timeout). Pending timer keys are kept in the
execution document (``timers``) so cancelling an execution cancels them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts import Envelope, topics
from contracts.events import (
    EffectSettled,
    Event,
    IntegrationRequested,
    NotificationRequested,
    TimerCancelRequested,
    TimerRequested,
)

from executor.runtime import engine_port
from executor.runtime.engine_port import EffectTarget
from executor.runtime.outbox import SOURCE, Outbox, outbox_entry

Document = dict[str, Any]
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


def child_execution_id(parent_id: str, effect_id: str) -> str:
    """Deterministic: a redelivered command finds the child it started before."""
    return "exe_" + hashlib.sha256(f"{parent_id}|{effect_id}".encode()).hexdigest()[:24]


class EffectRouter:
    """Turns effects of one command into outbox entries and service actions."""

    def __init__(
        self,
        doc: Document,
        outbox: Outbox,
        actions: list[Any],
        now: Callable[[], datetime],
        max_depth: int,
    ) -> None:
        self._doc = doc
        self._outbox = outbox
        self._actions = actions
        self._now = now
        self._max_depth = max_depth

    def _key(self, effect_id: str) -> str:
        return f"{self._doc['_id']}:{effect_id}"

    def route(self, effect: engine_port.Effect) -> tuple[str, dict[str, Any] | None] | None:
        """Request ``effect``; (effect id, result) when the path may go on at once."""
        if effect.target is EffectTarget.EXECUTOR:
            return self._executor_effect(effect)
        event, topic = self._request(effect)
        if effect.delay_seconds > 0:  # a retry: the request goes out when the back-off ends
            envelope = Envelope.wrap(
                event, source=SOURCE, tenant_id=self._doc["tenant_id"], traceparent=None
            )
            delayed = dict(self._doc.get("delayed") or {})
            delayed[effect.effect_id] = outbox_entry(topic, self._doc["_id"], envelope)
            self._doc["delayed"] = delayed
            self._timer(
                DELAY + effect.effect_id, self._now() + timedelta(seconds=effect.delay_seconds)
            )
        else:
            self._outbox.emit(topic, event)
        return None if effect.awaits_result else (effect.effect_id, None)

    def _request(self, effect: engine_port.Effect) -> tuple[Event, str]:
        common: dict[str, Any] = {
            "idempotency_key": self._key(effect.effect_id),
            "execution_id": self._doc["_id"],
            "tenant_id": self._doc["tenant_id"],
            "effect_id": effect.effect_id,
            "node_id": effect.node_id,
        }
        if effect.target is EffectTarget.NOTIFIER:
            channel = effect.request.get("channel") or self._doc.get("channel") or "chat"
            return (
                NotificationRequested(
                    **common,
                    kind=effect.kind,
                    channel=str(channel),
                    conversation_id=self._doc.get("conversation_id"),
                    request=effect.request,
                    awaits_result=effect.awaits_result,
                ),
                topics.NOTIFICATION_REQUESTS,
            )
        if effect.target is EffectTarget.SCHEDULER:
            self._track_timer(common["idempotency_key"])
            return TimerRequested(
                **common, fire_at=self._fire_at(effect.request)
            ), topics.TIMER_REQUESTS
        return (
            IntegrationRequested(**common, kind=effect.kind, request=effect.request),
            topics.INTEGRATION_REQUESTS,
        )

    def _executor_effect(
        self, effect: engine_port.Effect
    ) -> tuple[str, dict[str, Any] | None] | None:
        if effect.kind == WAIT_FOR_REPLY:
            conversation = str(effect.request.get("conversationId") or self._doc["_id"])
            self._actions.append(AwaitReply(conversation, effect.effect_id))
            timeout = effect.request.get("timeout_seconds")
            if timeout:
                self._timer(
                    REPLY_TIMEOUT + effect.effect_id,
                    self._now() + timedelta(seconds=float(timeout)),
                )
            return None
        if effect.kind != EXECUTE_WORKFLOW:
            raise ValueError(f"no executor-side handling for {effect.kind}")
        depth = int(self._doc.get("depth", 0)) + 1
        if depth > self._max_depth:
            self._refuse(effect, f"sub-workflow depth limit of {self._max_depth} reached")
            return None
        child_id = child_execution_id(self._doc["_id"], effect.effect_id)
        wait = bool(effect.request.get("waitForCompletion", True))
        self._actions.append(
            StartChild(
                child_id=child_id,
                workflow_id=str(effect.request["workflowId"]),
                input=dict(effect.request.get("input") or {}),
                depth=depth,
                parent_effect_id=effect.effect_id,
                wait=wait,
            )
        )
        return None if wait else (effect.effect_id, {"executionId": child_id})

    def _refuse(self, effect: engine_port.Effect, message: str) -> None:
        """Answer an effect with an error in a command to ourselves (the path sees it next)."""
        self._outbox.emit(
            topics.EXECUTION_COMMANDS,
            EffectSettled(
                command_id=f"refused:{self._key(effect.effect_id)}",
                execution_id=self._doc["_id"],
                tenant_id=self._doc["tenant_id"],
                effect_id=effect.effect_id,
                idempotency_key=self._key(effect.effect_id),
                error={"type": "SubWorkflowRefused", "message": message},
            ),
        )

    # -- timers ---------------------------------------------------------------------------

    def _fire_at(self, request: dict[str, Any]) -> datetime:
        if "until" in request:
            return datetime.fromisoformat(str(request["until"]))
        return self._now() + timedelta(seconds=float(request.get("delay_seconds", 0)))

    def _track_timer(self, key: str) -> None:
        self._doc["timers"] = [*self._doc.get("timers", []), key]

    def _timer(self, effect_id: str, fire_at: datetime) -> None:
        key = self._key(effect_id)
        self._track_timer(key)
        self._outbox.emit(
            topics.TIMER_REQUESTS,
            TimerRequested(
                idempotency_key=key,
                execution_id=self._doc["_id"],
                tenant_id=self._doc["tenant_id"],
                effect_id=effect_id,
                node_id=effect_id.split(":")[1] if ":" in effect_id else effect_id,
                fire_at=fire_at,
            ),
        )

    def settled(self, idempotency_key: str) -> None:
        timers = self._doc.get("timers") or []
        if idempotency_key in timers:
            self._doc["timers"] = [key for key in timers if key != idempotency_key]

    def release_delayed(self, effect_id: str) -> bool:
        """Publish the request a back-off delayed; False if it went out before."""
        delayed = dict(self._doc.get("delayed") or {})
        entry = delayed.pop(effect_id.removeprefix(DELAY), None)
        if entry is None:
            return False
        self._doc["delayed"] = delayed
        # The request is sent now: its CloudEvents time says so (the id stays the same).
        entry = {**entry, "headers": {**entry["headers"], "ce_time": self._now().isoformat()}}
        self._outbox.entries.append(entry)
        return True

    def waiting_deadline(self, seconds: float) -> None:
        generation = int(self._doc.get("wait_generation", 0)) + 1
        effect_id = f"{DEADLINE}{generation}"
        previous = self._doc.get("deadline_effect")
        if previous:
            self._cancel_timer(self._key(previous))
        self._doc.update(wait_generation=generation, deadline_effect=effect_id)
        self._timer(effect_id, self._now() + timedelta(seconds=seconds))

    def cancel(self, effect_ids: list[str]) -> None:
        """Requests the workflow no longer waits on: timers cancelled, reply waits released."""
        for effect_id in effect_ids:
            for timer in (effect_id, DELAY + effect_id, REPLY_TIMEOUT + effect_id):
                if self._key(timer) in (self._doc.get("timers") or []):
                    self._cancel_timer(self._key(timer))
            delayed = dict(self._doc.get("delayed") or {})
            if delayed.pop(effect_id, None) is not None:
                self._doc["delayed"] = delayed
            self._actions.append(ReleaseReplies(effect_id=effect_id))

    def cancel_all_timers(self) -> None:
        for key in list(self._doc.get("timers") or []):
            self._cancel_timer(key)
        self._doc["delayed"] = {}

    def _cancel_timer(self, key: str) -> None:
        self.settled(key)
        self._outbox.emit(
            topics.TIMER_REQUESTS,
            TimerCancelRequested(
                idempotency_key=key, execution_id=self._doc["_id"], tenant_id=self._doc["tenant_id"]
            ),
        )

    # -- sub-workflows ----------------------------------------------------------------------

    def notify_parent(
        self, status: str, variables: dict[str, Any] | None, error: dict[str, Any] | None
    ) -> None:
        """A child that ends answers the Execute Workflow node waiting in its parent."""
        parent = self._doc.get("parent")
        if not parent or not parent.get("wait"):
            return
        key = f"{parent['execution_id']}:{parent['effect_id']}"
        self._outbox.emit(
            topics.EXECUTION_COMMANDS,
            EffectSettled(
                command_id=f"child:{self._doc['_id']}:{status}",
                execution_id=parent["execution_id"],
                tenant_id=self._doc["tenant_id"],
                effect_id=parent["effect_id"],
                idempotency_key=key,
                result=None
                if error
                else {"executionId": self._doc["_id"], "status": status, **(variables or {})},
                error=None
                if not error
                else {"type": "SubWorkflowFailed", "executionId": self._doc["_id"], **error},
            ),
            key=parent["execution_id"],
        )
