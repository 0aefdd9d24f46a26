"""Triggers in: a customer's message first answers executions waiting for it (Wait for Reply);
otherwise one execution per active workflow of the trigger's type is created and started in the
same pass, so its first write is its state after the first step, not an empty document and a
start command to itself."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts import Envelope
from contracts.conversations import conversation_ref
from contracts.envelope import TraceContext
from contracts.events import (
    EffectSettled,
    ExecutionCancelRequested,
    ExecutionRequested,
    InboundMessage,
    MessageQueued,
    TriggerReceived,
)
from contracts.schedules import SCHEDULED

from executor.adapters.conversations import ConversationsExisted
from executor.adapters.execution_documents import addresses_of, new_execution, trigger_text
from executor.adapters.store import WorkflowCatalogue
from executor.runtime import engine_port
from executor.runtime.batch import Batch, BatchFlush, Flush, Sender, Touched
from executor.runtime.classification import MessageClassifier
from executor.runtime.conversations import ConversationIntake, Loaded, message_of, reply_of
from executor.runtime.outbox import command_entry
from executor.runtime.resources import WorkflowResources
from executor.runtime.running import CommandRunner
from executor.runtime.step import FINISHED, PermanentStepError
from executor.runtime.workflows import CompiledWorkflows

Document = dict[str, Any]
INCOMING_MESSAGE = "Incoming Message"
INTENT_DETECTED, SENTIMENT_NEGATIVE = "Intent Detected", "Sentiment Negative"


class ExecutionReader(Protocol):
    async def get(self, execution_id: str) -> Document | None: ...

    async def trigger_outcome(self, trigger_id: str) -> Document | None: ...


def execution_id_for(trigger_id: str, workflow_id: str) -> str:
    """Deterministic, so a redelivered trigger finds the execution it created before."""
    digest = hashlib.sha256(f"{trigger_id}|{workflow_id}".encode()).hexdigest()
    return "exe_" + digest[:24]


@dataclass
class Routed:
    """What a trigger did besides starting executions (the history API's GET /v1/triggers):
    the workflows it did not start and why, the waiting runs it answered, the busy runs it
    was queued for, the runs it interrupted."""

    not_started: list[Document] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)

    def outcome(self, trigger: TriggerReceived) -> Document:
        return {
            "_id": trigger.trigger_id,
            "tenant_id": trigger.tenant_id,
            "trigger_type": trigger.trigger_type,
            "received_at": trigger.received_at,
            "not_started": self.not_started,
            "resumed": self.answered,
            "queued": self.queued,
            "interrupted": self.interrupted,
        }


@dataclass
class Starts:
    """What every workflow a trigger may start shares: the trigger, the batch's conversations
    (its scopes), the conversation's runs and waits, what the trigger did so far."""

    trigger: TriggerReceived
    loaded: Loaded
    runs: dict[str, str]
    waiting: list[Document]
    routed: Routed
    with_agent: bool

    def text(self, payload: Document, resources: Document | None) -> str:
        scopes = self.loaded.scopes(self.trigger)
        return trigger_text(
            self.trigger,
            customer=scopes.customer,
            conversation=scopes.conversation,
            tenant=scopes.tenant,
            payload=payload,
            resources=resources,
        )


def _derived(
    classification: Document, inbound: InboundMessage | None, payload: Document
) -> list[tuple[str, Document]]:
    """The trigger types a classified message also starts, each with its ``trigger``: Intent
    Detected (``intent``, ``confidence``, ``ranking``, ``text``) when an intent was found,
    Sentiment Negative (``score``, ``sentiment``, ``text``) whenever sentiment was scored
    (the workflow's ``threshold`` decides)."""
    text = inbound.body if inbound is not None else ""
    derived: list[tuple[str, Document]] = []
    intent = classification.get("intent") or {}
    if intent.get("name"):
        derived.append(
            (
                INTENT_DETECTED,
                {
                    **payload,
                    "text": text,
                    "intent": intent["name"],
                    "confidence": intent["confidence"],
                    "ranking": intent["ranking"],
                },
            )
        )
    sentiment = classification.get("sentiment")
    if sentiment is not None:
        derived.append(
            (
                SENTIMENT_NEGATIVE,
                {
                    **payload,
                    "text": text,
                    "score": sentiment["score"],
                    "sentiment": sentiment["label"],
                },
            )
        )
    return derived


def _number_refusal(resources: Document, facts: Document) -> str | None:
    """A workflow with phone numbers attached takes the messages and calls to those numbers
    only (the product guide's workflow-scoped numbers)."""
    numbers = [n["id"] for n in resources.get("phoneNumbers") or ()]
    number = facts.get("phoneNumberId")
    if numbers and number and number not in numbers:
        return f"the number {number} is not one of the workflow's ({', '.join(numbers)})"
    return None


class TriggerIntake:
    def __init__(
        self,
        catalogue: WorkflowCatalogue,
        workflows: CompiledWorkflows,
        runner: CommandRunner,
        flush: BatchFlush,
        sender: Sender,
        conversations: ConversationIntake,
        *,
        resources: WorkflowResources | None = None,
        classifier: MessageClassifier | None = None,
        executions: ExecutionReader | None = None,
    ) -> None:
        self._conversations = conversations
        self._executions = executions
        self._resources = resources or WorkflowResources(None)
        self._classifier = classifier or MessageClassifier(None)
        self._catalogue = catalogue
        self._workflows = workflows
        self._runner = runner
        self._flush = flush
        self._sender = sender

    async def on_batch(self, envelopes: list[Envelope[TriggerReceived]]) -> None:
        """Plan the batch and flush it."""
        await (await self.plan(envelopes))()

    async def plan(self, envelopes: list[Envelope[TriggerReceived]]) -> Flush:
        """The batch up to its writes: the flush that does them is returned. When a
        conversation it planned as new (unread: this process had not seen it) exists, the
        flush writes nothing and the batch is planned again, with it read."""
        flush = await self._plan(envelopes)

        async def flush_or_plan_again() -> None:
            try:
                await flush()
            except ConversationsExisted:
                await (await self._plan(envelopes))()

        return flush_or_plan_again

    async def _plan(self, envelopes: list[Envelope[TriggerReceived]]) -> Flush:
        batch = Batch()
        tenants = list(dict.fromkeys(e.data.tenant_id for e in envelopes))
        # the conversations the last batch's flush is still writing are read after it
        await self._flush.conversations_written(
            {
                conversation_ref(e.data.tenant_id, e.data.conversation_id)
                for e in envelopes
                if e.data.conversation_id
            }
        )
        # The reads at once: each is a round trip, and none needs another.
        messages = {e.data.trigger_id: m for e in envelopes if (m := message_of(e.data))}
        active, loaded, _ = await asyncio.gather(
            self._active_workflows(tenants),
            self._conversations.load([e.data for e in envelopes]),
            self._classifier.prepare({e.data.tenant_id for e in envelopes} if messages else ()),
        )
        # Then, only where they can matter: the variables of tenants whose workflows read
        # global.* (the reply waits came with the conversations).
        readers = {
            tenant
            for tenant, by_type in active.items()
            for workflows in by_type.values()
            for w in workflows
            if await self._workflows.reads_global(w["_id"], int(w["active_version"]))
        }
        await self._conversations.load_tenants(loaded, readers)
        waits = _reply_waits_for(envelopes, loaded)
        # every customer's message classified before its triggers are matched
        asked = [
            (e.data.trigger_id, e.data.tenant_id, inbound.body)
            for e in envelopes
            if (inbound := messages.get(e.data.trigger_id)) is not None
        ]
        found = await self._classifier.classify_all([(t, text) for _, t, text in asked])
        classified = {
            trigger_id: c for (trigger_id, _, _), c in zip(asked, found, strict=True) if c
        }
        for envelope in envelopes:
            trigger = envelope.data
            loaded.record(batch.conversations, trigger, classified.get(trigger.trigger_id))
            await self._route(batch, envelope, active, waits, loaded, classified)
        return self._flush.seal(batch)

    async def _route(
        self,
        batch: Batch,
        envelope: Envelope[TriggerReceived],
        active: dict[str, dict[str, list[Document]]],
        waits: dict[tuple[str, str], list[Document]],
        loaded: Loaded,
        classified: dict[str, Document],
    ) -> None:
        """What one trigger does: for a customer's message in a conversation, each workflow's
        routing policy decides with the run it has there (docs/architecture.md, *Routing
        policies*); otherwise it starts a run of every active workflow that admits it. A
        classified message also starts the Intent Detected and Sentiment Negative workflows
        its classification admits."""
        trigger = envelope.data
        message = trigger.trigger_type == INCOMING_MESSAGE and bool(trigger.conversation_id)
        waiting = (
            waits.pop((trigger.tenant_id, trigger.conversation_id or ""), []) if message else []
        )
        runs = loaded.active_runs(trigger) if message else {}
        tenant_active = active.get(trigger.tenant_id, {})
        workflows = tenant_active.get(trigger.trigger_type, [])
        if trigger.workflow_id is not None:  # a schedule's: its workflow alone
            workflows = [w for w in workflows if w["_id"] == trigger.workflow_id]
        with_agent = message and loaded.status(trigger) == "with_agent"
        if with_agent and not await self._any_runs_with_agent(workflows):
            waiting = []  # the agent's now: no run resumes on its messages
        # Waits of runs that no workflow's policy handles (another workflow's, a child's): the
        # message is their reply, as it is for the runs that wait under queue or resume.
        own = {runs.get(w["_id"]) for w in workflows}
        others = [w for w in waiting if w["execution_id"] not in own]
        routed = Routed(answered=[w["execution_id"] for w in others])
        if others:
            await self._answer_waits(batch, trigger, others, envelope.trace)
        classification = classified.get(trigger.trigger_id)
        payload = trigger.payload
        if classification is not None:
            payload = {**payload, "classification": classification}
        starts = Starts(trigger, loaded, runs, waiting, routed, with_agent)
        await self._start_each(batch, envelope, starts, trigger.trigger_type, workflows, payload)
        if classification is not None:
            for kind, derived in _derived(classification, message_of(trigger), payload):
                if tenant_active.get(kind):
                    await self._start_each(
                        batch, envelope, starts, kind, tenant_active[kind], derived
                    )
        if (
            routed.not_started
            or routed.answered
            or routed.queued
            or routed.interrupted
            or not workflows
        ):
            # a trigger that did less than start every active workflow says what it did
            batch.trigger_outcomes.append(routed.outcome(trigger))

    async def _running_before(self, workflow_id: str, payload: Document) -> Document | None:
        """A schedule that does not overlap its runs: the run of an earlier fire that is not
        finished, or None. The previous fire's run, or, when that fire was refused for this
        reason, the run that blocked it (its trigger's outcome names it)."""
        previous = payload.get("previousTriggerId")
        if payload.get("overlap") != "skip" or not previous or self._executions is None:
            return None
        run = await self._executions.get(execution_id_for(str(previous), workflow_id))
        if run is None:
            outcome = await self._executions.trigger_outcome(str(previous)) or {}
            blockers = [
                n["blocking_execution_id"]
                for n in outcome.get("not_started", [])
                if n.get("workflow_id") == workflow_id and n.get("blocking_execution_id")
            ]
            run = await self._executions.get(blockers[0]) if blockers else None
        if run is None or run.get("status") in FINISHED:
            return None
        return run

    async def _start_each(
        self,
        batch: Batch,
        envelope: Envelope[TriggerReceived],
        starts: Starts,
        trigger_type: str,
        workflows: list[Document],
        payload: Document,
    ) -> None:
        """A run of each of ``workflows`` (of ``trigger_type``) that admits the trigger, with
        ``payload`` as its ``trigger``; routing policies apply to the message's own type."""
        trigger, routed = envelope.data, starts.routed
        message = (
            trigger_type == INCOMING_MESSAGE
            and trigger.trigger_type == INCOMING_MESSAGE
            and bool(trigger.conversation_id)
        )
        shared_json: str | None = None
        facts = {**payload, "channel": trigger.channel or payload.get("channel")}
        for workflow in workflows:
            version = int(workflow["active_version"])
            compiled = await self._workflows.get(workflow["_id"], version)
            reason = engine_port.refusal(compiled, trigger_type, facts)
            resources = await self._resources.of(trigger.tenant_id, workflow, compiled.resources)
            if reason is None:
                reason = _number_refusal(resources, facts)
            blocking: Document = {}
            if reason is None and trigger_type == SCHEDULED:
                running = await self._running_before(workflow["_id"], payload)
                if running is not None:
                    reason = (
                        f"the previous run {running['_id']} is still {running.get('status')} "
                        "(overlap: skip)"
                    )
                    blocking = {"blocking_execution_id": running["_id"]}
            activated = workflow.get("activated_at")
            if reason is None and activated is not None and _aware(activated) > trigger.received_at:
                # the message came while the workflow was not active (it is read a moment later)
                reason = "the workflow was activated after the message came"
            if (
                reason is None
                and starts.with_agent
                and engine_port.routing(compiled).while_with_agent != "run"
            ):
                reason = "the conversation is with an agent"
            if reason is not None:
                routed.not_started.append(
                    {
                        "workflow_id": workflow["_id"],
                        "workflow_name": workflow.get("name"),
                        "version": version,
                        "reason": reason,
                        **blocking,
                    }
                )
                continue
            run = starts.runs.get(workflow["_id"])
            if run == execution_id_for(trigger.trigger_id, workflow["_id"]):
                # this trigger started that run (redelivered, or sent again by the gateway):
                # not its reply, nor a reason to cancel it; starting it again changes nothing
                run = None
            if message and not await self._by_policy(
                batch, envelope, compiled, run, starts.waiting, routed
            ):
                continue
            if resources:
                trigger_json = starts.text(payload, resources)
            else:
                trigger_json = shared_json = shared_json or starts.text(payload, None)
            doc = new_execution(
                execution_id=execution_id_for(trigger.trigger_id, workflow["_id"]),
                tenant_id=trigger.tenant_id,
                workflow=workflow,
                version=version,
                trigger_id=trigger.trigger_id,
                trigger_json=trigger_json,
                conversation_id=trigger.conversation_id,
                channel=trigger.channel,
                **addresses_of(trigger),
            )
            if doc["_id"] in batch.touched:  # the same trigger twice in one batch
                continue
            await self._start(batch, doc, envelope.trace)
            started = batch.touched[doc["_id"]].doc
            if trigger.conversation_id and started["status"] not in FINISHED:
                started["conversation_run"] = True  # its end forgets it (running.py)
                starts.loaded.run_started(batch.conversations, trigger, workflow["_id"], doc["_id"])

    async def _by_policy(
        self,
        batch: Batch,
        envelope: Envelope[TriggerReceived],
        compiled: engine_port.CompiledWorkflow,
        run: str | None,
        waiting: list[Document],
        routed: Routed,
    ) -> bool:
        """Whether the message starts a run of this workflow; else it answered, queued for
        or interrupted the run the conversation has."""
        trigger = envelope.data
        policy = engine_port.routing(compiled).while_running
        wait = next((w for w in waiting if run and w["execution_id"] == run), None)
        if policy == "parallel":
            return True
        if policy == "interrupt":
            if run is not None:
                cancel = ExecutionCancelRequested(
                    command_id=f"interrupt:{trigger.trigger_id}:{run}",
                    execution_id=run,
                    tenant_id=trigger.tenant_id,
                    reason=f"interrupted by the customer's message {trigger.trigger_id}",
                )
                batch.sends.append(command_entry(cancel, envelope.trace))
                routed.interrupted.append(run)
            return True
        if wait is not None:
            await self._answer_waits(batch, trigger, [wait], envelope.trace)
            routed.answered.append(run or "")
            return False
        if routed.answered:
            return False  # a waiting run took the message as its reply
        if run is not None and policy == "queue":
            queued = MessageQueued(
                command_id=f"queued:{trigger.trigger_id}:{run}",
                execution_id=run,
                tenant_id=trigger.tenant_id,
                trigger=trigger,
            )
            batch.sends.append(command_entry(queued, envelope.trace))
            routed.queued.append(run)
            return False
        return True

    async def _any_runs_with_agent(self, workflows: list[Document]) -> bool:
        """Whether a workflow still takes messages while an agent has the conversation."""
        for workflow in workflows:
            compiled = await self._workflows.get(workflow["_id"], int(workflow["active_version"]))
            if engine_port.routing(compiled).while_with_agent == "run":
                return True
        return False

    async def _active_workflows(self, tenants: list[str]) -> dict[str, dict[str, list[Document]]]:
        """The active workflows of each tenant by trigger type, read at once (one query a
        tenant: a message may start workflows of three types)."""
        found = await asyncio.gather(*(self._catalogue.active_of(t) for t in tenants))
        return dict(zip(tenants, found, strict=True))

    async def _start(self, batch: Batch, doc: Document, trace: TraceContext) -> None:
        """Run a new execution's first step now; the flush inserts it with that state."""
        start = ExecutionRequested(
            command_id=f"start:{doc['_id']}", execution_id=doc["_id"], tenant_id=doc["tenant_id"]
        )
        batch.if_existing[doc["_id"]] = command_entry(start, trace)
        try:
            await self._runner.run(batch, doc, start, trace, stored_version=None, fresh=True)
        except PermanentStepError:
            # It can never start (e.g. no trigger node matches): stored as created, and its
            # start command goes to the dead letters with the reason, as any bad command.
            batch.touched[doc["_id"]] = Touched(doc, stored_version=None, fresh=True)
            batch.touched[doc["_id"]].outbox.append(batch.if_existing[doc["_id"]])

    async def _answer_waits(
        self, batch: Batch, trigger: TriggerReceived, waits: list[Document], trace: TraceContext
    ) -> None:
        message = reply_of(trigger)
        assert trigger.conversation_id is not None
        ref = conversation_ref(trigger.tenant_id, trigger.conversation_id)
        for wait in waits:
            answer = EffectSettled(
                command_id=f"reply:{trigger.trigger_id}:{wait['_id']}",
                execution_id=wait["execution_id"],
                tenant_id=trigger.tenant_id,
                effect_id=wait["effect_id"],
                idempotency_key=f"{wait['execution_id']}:{wait['effect_id']}",
                result=message,
            )
            await self._sender.send(command_entry(answer, trace))
            # answered: gone from the conversation with the batch's write of it
            batch.conversations.release(ref, wait["execution_id"], wait["effect_id"])


def _reply_waits_for(
    envelopes: list[Envelope[TriggerReceived]], loaded: Loaded
) -> dict[tuple[str, str], list[Document]]:
    """The waits of the batch's incoming messages' conversations, oldest first."""
    waits: dict[tuple[str, str], list[Document]] = {}
    for envelope in envelopes:
        trigger = envelope.data
        found = loaded.reply_waits(trigger) if trigger.trigger_type == INCOMING_MESSAGE else []
        if found:
            assert trigger.conversation_id is not None
            waits[(trigger.tenant_id, trigger.conversation_id)] = found
    return waits


def _aware(moment: datetime) -> datetime:
    """MongoDB's datetimes come back naive (UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
