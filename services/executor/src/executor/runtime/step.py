"""One command applied to one execution, without I/O: the heart of the durable runtime.

``apply`` takes the stored execution document, the compiled workflow and a command, runs the
engine until every path has ended or is suspended (or the step budget is spent), and returns the
new document (its outbox inside), the node runs to record, and the few things the service must
do in MongoDB first (start a child execution, register a wait for the customer's reply).

This module is the only one that changes the document: ``effects`` and ``outbox`` return what an
effect or a lifecycle change becomes, and the command's pass below applies it, top to bottom.
The service then records node runs, writes the document conditionally on its version, publishes
the outbox, and only then commits the Kafka offset (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts import topics
from contracts.envelope import TraceContext
from contracts.events import (
    CallTurn,
    EffectSettled,
    ExecutionCancelRequested,
    ExecutionRepairRequested,
    ExecutionRequested,
    ExecutionRetryRequested,
    MessageQueued,
    NotificationRequested,
    TriggerReceived,
    WaitingFor,
)
from servicekit.delivery import Permanent

from executor.adapters import execution_documents as stored
from executor.adapters.conversations import VariableWrite, changed_variables, scope_texts
from executor.runtime import effects, engine_port, outbox
from executor.runtime.conversations import reply_of
from executor.runtime.effects import (
    DEADLINE,
    DELAY,
    REPLY_TIMEOUT,
    SEND_REPLY,
    WAIT_FOR_REPLY,
    Action,
    ReleaseReplies,
)

Document = dict[str, Any]
Command = (
    ExecutionRequested
    | EffectSettled
    | ExecutionCancelRequested
    | ExecutionRetryRequested
    | ExecutionRepairRequested
    | MessageQueued
)
FINISHED = ("completed", "failed", "cancelled")
# what a repair sends again from the outbox: requests and commands, whose receivers dedupe by
# idempotency key or command id (the public lifecycle events are not repeated)
RESENT_TOPICS = frozenset(
    {
        topics.NOTIFICATION_REQUESTS,
        topics.INTEGRATION_REQUESTS,
        topics.TIMER_REQUESTS,
        topics.AGENT_ROUTING,
        topics.EXECUTION_COMMANDS,
    }
)
__all__ = ["Action", "Applied", "Command", "Limits", "PermanentStepError", "apply"]


class PermanentStepError(Permanent):
    """A command that can never be applied as the workflow stands (dead-lettered at once)."""


@dataclass(frozen=True)
class Limits:
    """Per-command step budget and per-execution limits (defaults in executor.settings)."""

    max_steps: int = 500
    max_running_seconds: float = 3600
    max_waiting_seconds: float = 7 * 24 * 3600
    max_depth: int = 5


@dataclass
class Applied:
    """What applying a command produced."""

    doc: Document
    node_runs: list[Document] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    changed: bool = True
    # the conversation and global variables the command changed, to persist with its write
    variable_writes: list[VariableWrite] = field(default_factory=list)
    said: list[str] = field(default_factory=list)  # on a phone call, for the message log
    replied: bool = False  # asked for a message to the customer (its conversation's last)


async def apply(
    doc: Document,
    workflow: engine_port.CompiledWorkflow,
    command: Command,
    *,
    now: Callable[[], datetime],
    limits: Limits,
    trace: TraceContext,
) -> Applied:
    """Apply ``command`` to the execution ``doc`` (not mutated)."""
    retrying = isinstance(command, ExecutionRetryRequested) and doc["status"] == "failed"
    if isinstance(command, ExecutionRepairRequested) and (
        doc["status"] in FINISHED or int(doc["version"]) != command.expected_version
    ):
        return Applied(doc, changed=False)  # it moved on since the watchdog looked
    if doc["status"] in FINISHED and not retrying:
        if not isinstance(command, MessageQueued):
            return Applied(doc, changed=False)
        # It ended before it took the message: the message goes back to the triggers.
        ended = _Step(dict(doc), workflow, now, limits, trace)
        ended.doc["queued_messages"] = [_queued(command)]
        ended._pass_on_queued()
        return Applied(ended.doc, changed=ended._commit(command.command_id))
    step = _Step(dict(doc), workflow, now, limits, trace)
    changed = await step.apply(command)
    return Applied(
        step.doc, step.runs, step.actions, changed, step.variable_writes, step.said, step.replied
    )


class _Step:
    """One command's pass: the new document, its outbox, node runs and actions."""

    def __init__(
        self,
        doc: Document,
        workflow: engine_port.CompiledWorkflow,
        now: Callable[[], datetime],
        limits: Limits,
        trace: TraceContext,
    ) -> None:
        self.doc = doc
        self.workflow = workflow
        self.now = now
        self.limits = limits
        self.trace = trace
        self.entries: list[Document] = []  # the command's outbox
        self.runs: list[Document] = []
        self.steps_published = False
        self.actions: list[Action] = []
        self.variables_before: dict[str, dict[str, str]] = {}
        self.said: list[str] = []  # what a phone call said, for the message log
        self.replied = False
        self.variable_writes: list[VariableWrite] = []

    async def apply(self, command: Command) -> bool:
        if isinstance(command, ExecutionCancelRequested):
            self._cancel(command.reason)
            return self._commit(command.command_id)
        if isinstance(command, ExecutionRepairRequested):
            await self._repair(command)
            self._commit(command.command_id)
            self.doc["watchdog"] = {**self.doc["watchdog"], "version": self.doc["version"]}
            return True
        state = stored.state_of(self.doc)
        if state is None and isinstance(command, MessageQueued):
            self.doc["queued_messages"] = [*self.doc.get("queued_messages", []), _queued(command)]
            return self._commit(command.command_id)  # taken when it starts, or passed on
        if state is None:
            if not isinstance(command, ExecutionRequested):
                raise PermanentStepError(f"execution {self.doc['_id']} has not started")
            state = self._start()
            self.variables_before = scope_texts(engine_port.scope_variables(state))
        else:
            self.variables_before = scope_texts(engine_port.scope_variables(state))
            proceed = self._receive(state, command)
            if proceed is None:
                return False
            if not proceed:  # handled without running the engine (a delayed request went out)
                return self._commit(command.command_id)
        self._resumed()
        if self._running_too_long():
            self._abort(
                state, f"running time limit of {self.limits.max_running_seconds:g}s exceeded"
            )
        else:
            await self._advance(state)
        self._take_state(state)
        return self._commit(command.command_id)

    # -- receiving a command ---------------------------------------------------------------

    def _start(self) -> engine_port.ExecutionState:
        started = self.now()
        try:
            state = engine_port.start(self.workflow, stored.engine_context(self.doc, started))
        except engine_port.NoMatchingTrigger as exc:
            raise PermanentStepError(str(exc)) from exc
        self.doc.update(status="running", started_at=started, total_nodes=len(self.workflow.nodes))
        payload = stored.trigger_of(self.doc).get("payload") or {}
        if (
            self.doc.get("channel") == "voice"
            and payload.get("callSid")
            and payload.get("callTurn")
        ):
            # a phone call: this execution answers the caller (docs/architecture.md, *Voice*)
            self.doc["call"] = {
                "sid": str(payload["callSid"]),
                "answers": str(payload["callTurn"]),
                "answered": None,
            }
            self.doc["call_verbs"] = []
        self._emit(outbox.started(self.doc, started))
        return state

    def _receive(self, state: engine_port.ExecutionState, command: Command) -> bool | None:
        """True: run the engine; False: done without it; None: nothing to do (a duplicate)."""
        if isinstance(command, ExecutionRequested):
            return None if command.command_id.startswith("start:") else True
        if isinstance(command, ExecutionRetryRequested):
            return self._retry(state)
        if isinstance(command, MessageQueued):
            return self._queue(state, _queued(command))
        assert isinstance(command, EffectSettled)
        effect_id = command.effect_id
        self._untrack(command.idempotency_key)
        if effect_id.startswith(DEADLINE):
            if self.doc["status"] != "waiting" or effect_id != self.doc.get("deadline_effect"):
                return None
            seconds = self.limits.max_waiting_seconds
            self._abort(state, f"waited longer than the waiting time limit of {seconds:g}s")
            self._take_state(state)
            return False
        if effect_id.startswith(DELAY):
            return False if self._release_delayed(effect_id) else None
        if effect_id.startswith(REPLY_TIMEOUT):
            waited = effect_id.removeprefix(REPLY_TIMEOUT)
            try:
                engine_port.deliver(self.workflow, state, waited, {"timedOut": True})
            except engine_port.EffectNotWaiting:
                return None
            self.actions.append(ReleaseReplies(effect_id=waited))
            return True
        try:
            engine_port.deliver(self.workflow, state, effect_id, command.result, command.error)
        except engine_port.EffectNotWaiting:
            return None  # settled before: a redelivered result
        self._caller_spoke(command.result)
        return True

    def _queue(self, state: engine_port.ExecutionState, queued: Document) -> bool:
        """A message for this busy run: the reply of the Wait for Reply it waits at now, or
        kept for its next one."""
        for effect_id, activation in list(state.waiting.items()):
            if self.workflow.nodes[activation.node_id].kind.name == WAIT_FOR_REPLY:
                engine_port.deliver(self.workflow, state, effect_id, queued["reply"])
                self._caller_spoke(queued["reply"])
                self._withdraw([effect_id])  # its timeout and its registered wait
                self.doc["waiting_on_customer"] = False
                return True
        self.doc["queued_messages"] = [*self.doc.get("queued_messages", []), queued]
        return False

    def _take_queued(self) -> Document:
        """The next queued message for a Wait for Reply: those that came within the
        workflow's burst window of each other, as one."""
        queued: list[Document] = self.doc["queued_messages"]
        burst = engine_port.routing(self.workflow).burst_seconds
        taken = [queued[0]]
        for entry in queued[1:]:
            gap = datetime.fromisoformat(entry["reply"]["receivedAt"]) - datetime.fromisoformat(
                taken[-1]["reply"]["receivedAt"]
            )
            if gap.total_seconds() > burst:
                break
            taken.append(entry)
        self.doc["queued_messages"] = queued[len(taken) :]
        if len(taken) == 1:
            reply: Document = taken[0]["reply"]
            return reply
        replies = [t["reply"] for t in taken]
        text = "\n".join(str(r.get("text", "")) for r in replies if r.get("text"))
        return {**replies[-1], "text": text, "messages": replies}

    def _pass_on_queued(self) -> None:
        """Messages queued for a run that ended go back to the triggers, in order (keyed by
        their conversation): each starts, or is queued for, the next run."""
        for entry in self.doc.get("queued_messages") or []:
            trigger = TriggerReceived.model_validate(entry["trigger"])
            key = trigger.conversation_id or trigger.tenant_id
            self._emit(outbox.Message(topics.TRIGGERS, trigger, key=key))
        self.doc["queued_messages"] = []

    def _retry(self, state: engine_port.ExecutionState) -> bool | None:
        try:
            engine_port.retry(self.workflow, state)
        except engine_port.NotRetryable:
            return None
        self.doc.update(status="running", error=None)
        if self.doc.get("incident"):
            resolved = {"status": "resolved", "resolved_at": self.now()}
            self.doc["incident"] = {**self.doc["incident"], **resolved}
        return True

    # -- the watchdog's repairs (docs/architecture.md, *The watchdog*) -------------------------

    async def _repair(self, command: ExecutionRepairRequested) -> None:
        """Send again what the execution waits on, or fail it with an incident saying why."""
        self.doc["watchdog"] = {
            "finding": command.finding,
            "action": command.action,
            "reason": command.reason,
            "found_at": command.found_at,
            "repaired_at": self.now(),
        }
        state = stored.state_of(self.doc)
        if command.action == "fail":
            self._fail_stuck(state, command.reason)
        elif state is None:  # its start was lost: start it now
            try:
                state = self._start()
            except PermanentStepError as exc:
                self.doc["watchdog"]["action"] = "fail"
                self._fail_stuck(None, f"{command.reason}; it cannot start: {exc}")
                return
            self.variables_before = scope_texts(engine_port.scope_variables(state))
            await self._advance(state)
            self._take_state(state)
        elif self.doc["status"] == "running" and self._running_too_long():
            self._resumed()
            seconds = self.limits.max_running_seconds
            self._abort(state, f"running time limit of {seconds:g}s exceeded")
            self._take_state(state)
        else:
            self._resend()

    def _resend(self) -> None:
        """Its last command's requests and commands again, and its deadline timer."""
        doc = self.doc
        self.entries.extend(e for e in doc.get("outbox") or [] if e["topic"] in RESENT_TOPICS)
        deadline, deadline_at = doc.get("deadline_effect"), doc.get("wait_deadline_at")
        if doc["status"] == "waiting" and deadline and deadline_at is not None:
            self._emit(effects.timer(doc, deadline, deadline_at))

    def _fail_stuck(self, state: engine_port.ExecutionState | None, reason: str) -> None:
        error = {"message": f"watchdog: {reason}", "code": "watchdog"}
        if state is not None:
            self._resumed()
            self._withdraw(engine_port.abort(state, error))
            self._take_state(state)
            return
        doc, now = self.doc, self.now()  # never started: nothing ran, nothing to withdraw
        started: datetime = doc.get("created_at") or now
        elapsed_ms = int((now - started).total_seconds() * 1000)
        doc.update(
            status="failed",
            finished_at=now,
            execution_time_ms=elapsed_ms,
            error=error,
            waiting_for=[],
            incident={
                "status": "open",
                "node_id": None,
                "message": error["message"],
                "opened_at": now,
            },
        )
        self._cancel_all_timers()
        self._pass_on_queued()
        self._emit(outbox.failed(doc, started, now, elapsed_ms, error))
        self._notify_parent("failed", None, error)

    # -- running ---------------------------------------------------------------------------

    async def _advance(self, state: engine_port.ExecutionState) -> None:
        budget = self.limits.max_steps
        while budget > 0:
            outcome = await engine_port.advance(
                self.workflow, state, now=self.now, max_steps=budget
            )
            budget -= len(outcome.node_runs)
            for run in outcome.node_runs:
                self._record(run)
            answered_now = [
                (effect.effect_id, self._caller_spoke(self._take_queued()))
                if effect.kind == WAIT_FOR_REPLY and self.doc.get("queued_messages")
                else self._take(effects.request(self.doc, effect, self.now, self.limits.max_depth))
                for effect in outcome.effects
            ]
            self._withdraw(outcome.cancelled_effects)
            ready = [answer for answer in answered_now if answer is not None]
            if not ready or state.finished:
                return
            # Requests whose result the workflow does not need (a reply, a tag) and children
            # started without waiting: the path goes on at once.
            for effect_id, result in ready:
                engine_port.deliver(self.workflow, state, effect_id, result)

    def _record(self, run: engine_port.NodeRun) -> None:
        doc = self.doc
        seq = int(doc.get("node_seq", 0)) + 1
        doc["node_seq"] = seq
        if run.status in ("completed", "failed"):
            doc["executed_nodes"] = int(doc.get("executed_nodes", 0)) + 1
        if run.status == "failed":
            doc["failed_nodes"] = int(doc.get("failed_nodes", 0)) + 1
        self.runs.append(stored.node_run_record(doc, seq, run))

    def _abort(self, state: engine_port.ExecutionState, message: str) -> None:
        self._withdraw(engine_port.abort(state, {"message": message, "code": "limit"}))

    def _cancel(self, reason: str) -> None:
        doc, now = self.doc, self.now()
        state = stored.state_of(doc)
        if state is not None:
            self._withdraw(engine_port.abort(state, {"message": reason, "code": "cancelled"}))
            doc.update(stored.state_fields(state))
        self._cancel_all_timers()
        self.actions.append(ReleaseReplies(effect_id=None))
        self._pass_on_queued()
        self._end_call()
        started = doc.get("started_at")
        doc.update(status="cancelled", finished_at=now, error={"message": reason}, waiting_for=[])
        if started is not None:
            doc["execution_time_ms"] = int((now - started).total_seconds() * 1000)
        self._emit(outbox.cancelled(doc, started, now, reason))
        self._notify_parent("cancelled", None, {"message": reason})

    # -- after running ---------------------------------------------------------------------

    def _resumed(self) -> None:
        since = self.doc.get("waiting_since")
        if since is not None:
            waited = (self.now() - since).total_seconds() * 1000
            self.doc["waited_ms"] = int(self.doc.get("waited_ms", 0) + waited)
            self.doc["waiting_since"] = None

    def _running_too_long(self) -> bool:
        started: datetime | None = self.doc.get("started_at")
        if started is None:
            return False
        waited_ms: int = self.doc.get("waited_ms", 0)
        running_ms = (self.now() - started).total_seconds() * 1000 - waited_ms
        return running_ms > self.limits.max_running_seconds * 1000

    def _take_state(self, state: engine_port.ExecutionState) -> None:
        """The engine's state after it ran becomes the document's (status, state, variables,
        what it waits for), after the node steps: then the event of that status (continue,
        waiting with its deadline, or finished)."""
        self._publish_steps()
        doc, now = self.doc, self.now()
        status = str(state.status)
        variables = engine_port.visible_variables(state)
        after = scope_texts(engine_port.scope_variables(state))
        self.variable_writes = changed_variables(self.variables_before, after)
        self.variables_before = after
        doc.update(
            status=status,
            **stored.state_fields(state, variables),
            waiting_for=sorted(state.waiting),
        )
        doc["waiting_on_customer"] = False
        if status == "running":  # the step budget ran out: continue in a command of our own
            self._emit(outbox.continued(doc))
        elif status == "waiting":
            doc["waiting_since"] = now
            waiting = [
                WaitingFor(
                    effect_id=effect_id,
                    node_id=activation.node_id,
                    kind=self.workflow.nodes[activation.node_id].kind.name,
                )
                for effect_id, activation in state.waiting.items()
            ]
            self._emit(outbox.waiting(doc, waiting, now))
            self._waiting_deadline()
            doc["waiting_on_customer"] = any(w.kind == WAIT_FOR_REPLY for w in waiting)
        else:
            self._finished(state, status, variables["workflow"], now)

    def _finished(
        self, state: engine_port.ExecutionState, status: str, variables: Document, now: datetime
    ) -> None:
        doc = self.doc
        started: datetime = doc["started_at"]
        elapsed_ms = int((now - started).total_seconds() * 1000)
        doc.update(finished_at=now, execution_time_ms=elapsed_ms)
        self._cancel_all_timers()
        self._pass_on_queued()
        self._end_call()
        if status == "completed":
            self._emit(outbox.completed(doc, started, now, elapsed_ms))
            self._notify_parent(status, variables, None)
            return
        error = dict(state.error or {"message": "failed"})
        error.setdefault("node_id", error.get("nodeId") or (state.retry_from or {}).get("node_id"))
        doc["error"] = error
        doc["incident"] = {
            "status": "open",
            "node_id": error.get("node_id"),
            "message": stored.error_text(error),
            "opened_at": now,
        }
        self._emit(outbox.failed(doc, started, now, elapsed_ms, error))
        self._notify_parent(status, None, error)

    def _publish_steps(self) -> None:
        """The command's node runs in one NodesStepped, before its lifecycle event."""
        if self.runs and not self.steps_published:
            self._emit(outbox.stepped(self.doc, self.runs))
            self.steps_published = True

    def _commit(self, command_id: str) -> bool:
        self._publish_steps()
        self.doc.update(
            outbox=self.entries,
            last_command_id=command_id,
            version=int(self.doc["version"]) + 1,
            updated_at=self.now(),
        )
        return True

    # -- what effects and lifecycle changes decided, applied to the document -----------------

    def _emit(self, message: outbox.Message) -> None:
        self.entries.append(outbox.entry(message, self.doc, self.trace))
        event = message.event
        if isinstance(event, NotificationRequested) and event.kind == SEND_REPLY:
            self.replied = self.replied or event.conversation_id is not None

    def _take(self, request: effects.Request) -> tuple[str, dict[str, Any] | None] | None:
        """Apply what one effect became; (effect id, result) when the path may go on at once."""
        doc = self.doc
        if request.held is not None:
            effect_id, held = request.held
            doc["delayed"] = {**(doc.get("delayed") or {}), effect_id: held}
        if request.timers:
            doc["timers"] = [*doc.get("timers", []), *request.timers]
        for message in request.messages:
            self._emit(message)
        if request.action is not None:
            self.actions.append(request.action)
        if request.voice and doc.get("call"):
            doc["call_verbs"] = [*doc.get("call_verbs", []), *request.voice]
            if request.ends_turn:
                self._call_turn()
        return request.answer

    # -- a phone call: the turns the caller hears ------------------------------------------

    def _caller_spoke(self, reply: Document | None) -> Document | None:
        """A reply from the caller: the turn this execution answers next."""
        call = self.doc.get("call")
        if call and reply and reply.get("callTurn"):
            self.doc["call"] = {**call, "answers": str(reply["callTurn"])}
        return reply

    def _call_turn(self) -> None:
        """What the caller hears next, once per input of theirs (the gateway is holding their
        request): the verbs so far, in one CallTurn."""
        doc, call = self.doc, self.doc["call"]
        if call["answered"] == call["answers"]:
            return  # this input was answered: the verbs wait for the caller's next one
        turn = CallTurn(
            tenant_id=doc["tenant_id"],
            call_sid=call["sid"],
            conversation_id=doc.get("conversation_id"),
            answers=call["answers"],
            verbs=doc.get("call_verbs", []),
            execution_id=doc["_id"],
            decided_at=self.now(),
        )
        self._emit(outbox.Message(topics.CALLS, turn, key=call["sid"]))
        self.said.extend(v["say"]["text"] for v in turn.verbs if "say" in v)
        doc["call"] = {**call, "answered": call["answers"]}
        doc["call_verbs"] = []

    def _end_call(self) -> None:
        """An execution that ends with the caller waiting for an answer hangs up after what
        it had to say."""
        call = self.doc.get("call")
        if call and call["answered"] != call["answers"]:
            self.doc["call_verbs"] = [*self.doc.get("call_verbs", []), {"hangup": {}}]
            self._call_turn()

    def _untrack(self, timer_key: str) -> None:
        timers = self.doc.get("timers") or []
        if timer_key in timers:
            self.doc["timers"] = [key for key in timers if key != timer_key]

    def _cancel_timer(self, timer_key: str) -> None:
        self._untrack(timer_key)
        self._emit(effects.timer_cancel(self.doc, timer_key))

    def _cancel_all_timers(self) -> None:
        for timer_key in list(self.doc.get("timers") or []):
            self._cancel_timer(timer_key)
        self.doc["delayed"] = {}

    def _withdraw(self, effect_ids: list[str]) -> None:
        """Requests the workflow no longer waits on: timers cancelled, reply waits released."""
        doc = self.doc
        for effect_id in effect_ids:
            for timer_key in effects.timers_of(doc, effect_id):
                if timer_key in (doc.get("timers") or []):
                    self._cancel_timer(timer_key)
            delayed = dict(doc.get("delayed") or {})
            if delayed.pop(effect_id, None) is not None:
                doc["delayed"] = delayed
            self.actions.append(ReleaseReplies(effect_id=effect_id))

    def _release_delayed(self, effect_id: str) -> bool:
        """Publish the request a back-off held back; False if it went out before."""
        delayed = dict(self.doc.get("delayed") or {})
        held = delayed.pop(effect_id.removeprefix(DELAY), None)
        if held is None:
            return False
        self.doc["delayed"] = delayed
        self.entries.append(effects.released(held, self.now()))
        return True

    def _waiting_deadline(self) -> None:
        doc = self.doc
        generation = int(doc.get("wait_generation", 0)) + 1
        effect_id = f"{DEADLINE}{generation}"
        previous = doc.get("deadline_effect")
        if previous:
            self._cancel_timer(effects.key(doc, previous))
        doc.update(wait_generation=generation, deadline_effect=effect_id)
        fire_at = self.now() + timedelta(seconds=self.limits.max_waiting_seconds)
        doc["wait_deadline_at"] = fire_at  # the watchdog's watch_deadline
        deadline = effects.Request(
            [effects.timer(doc, effect_id, fire_at)], [effects.key(doc, effect_id)]
        )
        self._take(deadline)

    def _notify_parent(
        self, status: str, variables: Document | None, error: Document | None
    ) -> None:
        answer = effects.parent_answer(self.doc, status, variables, error)
        if answer is not None:
            self._emit(answer)


def _queued(command: MessageQueued) -> Document:
    """A queued message as the run keeps it: the trigger (to pass on) and the reply."""
    return {"trigger": command.trigger.model_dump(mode="json"), "reply": reply_of(command.trigger)}
