"""Every message that crosses Kafka, as a frozen pydantic model with a stable type name.

The type name (``ce_type`` header) is an explicit class variable, never derived from the module
path, so moving a class never breaks consumers. Public events (executions, node steps) are a
published API: their JSON Schemas are exported to ``docs/schemas/`` by ``make schemas``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.conversations import MESSAGE_ID_PATTERN

JsonObject = dict[str, Any]


class Event(BaseModel):
    """Base of every message: frozen, strict about unknown fields, named by ``event_type``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_type: ClassVar[str]


class MediaItem(BaseModel):
    """An attachment of a message: where the provider keeps it, and its type."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str
    content_type: str | None = None


class InboundMessage(BaseModel):
    """A customer's message as a channel delivered it: recorded in the conversation's log.

    ``contact_address`` is the customer's (a phone number in E.164, an email address, a chat
    visitor id), ``tenant_address`` the tenant's (its number, its mailbox, its widget)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    contact_address: str
    tenant_address: str | None = None
    body: str = ""
    media: list[MediaItem] = Field(default_factory=list)
    provider: str | None = Field(default=None, description="twilio, widget, sendgrid, ...")
    provider_message_id: str | None = Field(default=None, description="e.g. Twilio's MessageSid")
    subject: str | None = Field(default=None, description="An email's subject.")


class TriggerReceived(Event):
    """Something happened that may start workflows: a chat message, an SMS, a call, an order."""

    event_type: ClassVar[str] = "TriggerReceived"
    trigger_id: str = Field(description="Unique per delivery; provider retries reuse it.")
    tenant_id: str
    trigger_type: str = Field(description="The builder's trigger label, e.g. 'Incoming Message'.")
    conversation_id: str | None = None
    channel: str | None = Field(default=None, description="chat, sms, voice, email, ...")
    payload: JsonObject = Field(default_factory=dict, description="What `trigger.<field>` reads.")
    customer: JsonObject | None = None
    received_at: datetime
    message: InboundMessage | None = Field(
        default=None, description="The customer's message, when a channel delivered one."
    )
    workflow_id: str | None = Field(
        default=None,
        description="Only this workflow may start (a schedule's); none: every matching one.",
    )


class ExecutionRequested(Event):
    """Command: run an execution that the executor has just created (keyed by execution id)."""

    event_type: ClassVar[str] = "ExecutionRequested"
    command_id: str
    execution_id: str
    tenant_id: str


class EffectSettled(Event):
    """Command: the outcome of a request an execution was waiting for (keyed by execution id).

    Sent by the notifier, the integrations service and the scheduler. Exactly one of ``result``
    and ``error`` is set."""

    event_type: ClassVar[str] = "EffectSettled"
    command_id: str
    execution_id: str
    tenant_id: str
    effect_id: str
    idempotency_key: str
    result: JsonObject | None = None
    error: JsonObject | None = None

    @classmethod
    def answering(
        cls,
        request: NotificationRequested | IntegrationRequested,
        *,
        result: JsonObject | None = None,
        error: JsonObject | None = None,
    ) -> EffectSettled:
        """The outcome of ``request``, for the execution that asked (its command id is the
        same however often it is sent: the executor applies it once)."""
        return cls(
            command_id="settle:" + request.idempotency_key,
            execution_id=request.execution_id,
            tenant_id=request.tenant_id,
            effect_id=request.effect_id,
            idempotency_key=request.idempotency_key,
            result=result,
            error=error,
        )


class MessageQueued(Event):
    """Command: a customer's message for a run that is busy (the workflow's `queue` policy,
    keyed by execution id). The run takes it at its next Wait for Reply; if the run ends
    first, it passes the message back to the triggers topic, where it starts the next run."""

    event_type: ClassVar[str] = "MessageQueued"
    command_id: str
    execution_id: str
    tenant_id: str
    trigger: TriggerReceived


class ExecutionCancelRequested(Event):
    """Command: stop an execution; its outstanding requests and timers are cancelled."""

    event_type: ClassVar[str] = "ExecutionCancelRequested"
    command_id: str
    execution_id: str
    tenant_id: str
    reason: str = "cancelled through the API"


class ExecutionRetryRequested(Event):
    """Command: run a failed execution again from the node that failed (its incident)."""

    event_type: ClassVar[str] = "ExecutionRetryRequested"
    command_id: str
    execution_id: str
    tenant_id: str


class ExecutionRepairRequested(Event):
    """Command from the scheduler's watchdog: an execution made no progress it should have
    (``finding``, ``reason``). ``resend``: send again what it waits on (its start, its last
    requests, its deadline timer; the receivers dedupe by idempotency key); ``fail``: end it
    with an incident naming the reason. Applied only while the execution is still at
    ``expected_version``, the version the finding saw."""

    event_type: ClassVar[str] = "ExecutionRepairRequested"
    command_id: str
    execution_id: str
    tenant_id: str
    finding: Literal["not_started", "no_progress", "unwakeable", "overdue"]
    action: Literal["resend", "fail"]
    reason: str
    expected_version: int
    found_at: datetime


class ExecutionStarted(Event):
    """Public: an execution of a workflow version began."""

    event_type: ClassVar[str] = "ExecutionStarted"
    execution_id: str
    tenant_id: str
    workflow_id: str
    workflow_version: int
    trigger_id: str
    started_at: datetime


class ExecutionCompleted(Event):
    """Public: an execution ended with every path done."""

    event_type: ClassVar[str] = "ExecutionCompleted"
    execution_id: str
    tenant_id: str
    workflow_id: str
    workflow_version: int
    started_at: datetime
    completed_at: datetime
    execution_time_ms: int
    executed_nodes: int


class ExecutionFailed(Event):
    """Public: an execution ended with an error at a node."""

    event_type: ClassVar[str] = "ExecutionFailed"
    execution_id: str
    tenant_id: str
    workflow_id: str
    workflow_version: int
    started_at: datetime
    failed_at: datetime
    execution_time_ms: int
    node_id: str | None
    message: str


class WaitingFor(BaseModel):
    """One request an execution waits on."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    effect_id: str
    node_id: str
    kind: str


class ExecutionWaiting(Event):
    """Public: every live path of the execution waits on the outside world (or a timer)."""

    event_type: ClassVar[str] = "ExecutionWaiting"
    execution_id: str
    tenant_id: str
    workflow_id: str
    workflow_version: int
    waiting_for: list[WaitingFor]
    since: datetime


class ExecutionCancelled(Event):
    """Public: an execution was stopped before it ended."""

    event_type: ClassVar[str] = "ExecutionCancelled"
    execution_id: str
    tenant_id: str
    workflow_id: str
    workflow_version: int
    started_at: datetime | None
    cancelled_at: datetime
    reason: str


NodeRunStatus = Literal["completed", "failed", "waiting", "skipped"]


class NodeStep(BaseModel):
    """One node run: which node, its outcome and timing (the full run, with input and output,
    is in the history API)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    seq: int = Field(description="The run's place in the execution, from 1.")
    node_id: str
    label: str
    kind: str
    status: NodeRunStatus
    port: str | None = None
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    error: str | None = None


class NodesStepped(Event):
    """Public: the node runs of one command of one execution, in run order. They are written
    with the command's state and published with its other events, so one message per command
    carries them all."""

    event_type: ClassVar[str] = "NodesStepped"
    execution_id: str
    tenant_id: str
    workflow_id: str
    steps: list[NodeStep] = Field(min_length=1)


class NotificationRequested(Event):
    """Request to the notifier: deliver a message to a person (Send Reply, email, SMS, ...)."""

    event_type: ClassVar[str] = "NotificationRequested"
    idempotency_key: str = Field(description="execution_id:node_id:attempt; delivered once.")
    execution_id: str
    tenant_id: str
    effect_id: str
    node_id: str
    kind: str = Field(description="Canonical node kind, e.g. action.send_reply.")
    channel: str = Field(description="chat, sms, email, ...")
    conversation_id: str | None = None
    request: JsonObject = Field(description="The node's rendered request, e.g. {message: ...}.")
    awaits_result: bool = Field(
        default=True,
        description="False when the workflow went on without waiting (a reply, a tag): the "
        "notifier then records the outcome but sends no EffectSettled back.",
    )
    contact_address: str | None = Field(
        default=None,
        description="The customer's address in the conversation (a phone number), as the "
        "message that started the execution came from it: a reply goes there unless the "
        "request names another `to`. None: the notifier reads the conversation's.",
    )
    tenant_address: str | None = Field(
        default=None,
        description="The tenant's address the customer wrote to (its number): a reply's "
        "sender unless the request names another `from`.",
    )


class IntegrationRequested(Event):
    """Request to the integrations service: one operation on a system of record."""

    event_type: ClassVar[str] = "IntegrationRequested"
    idempotency_key: str
    execution_id: str
    tenant_id: str
    effect_id: str
    node_id: str
    kind: str
    request: JsonObject
    # whose connections apply (the spec's WorkflowIntegration): the node's, else the
    # workflow's, else the tenant's default of the type
    workflow_id: str | None = None


class TimerRequested(Event):
    """Request to the scheduler: settle ``effect_id`` of an execution at ``fire_at``."""

    event_type: ClassVar[str] = "TimerRequested"
    idempotency_key: str
    execution_id: str
    tenant_id: str
    effect_id: str
    node_id: str
    fire_at: datetime


class TimerCancelRequested(Event):
    """Request to the scheduler: the timer stored under ``idempotency_key`` must not fire."""

    event_type: ClassVar[str] = "TimerCancelRequested"
    idempotency_key: str
    execution_id: str
    tenant_id: str


class ReplySent(Event):
    """An outbound message that went out to a conversation: a chat reply delivered (the chat
    widget's reply stream reads it), an SMS or WhatsApp message accepted by Twilio (its
    delivery status follows in DeliveryStatusReported); the tenants' webhooks get both as
    ``message.sent``."""

    event_type: ClassVar[str] = "ReplySent"
    notification_id: str
    tenant_id: str
    conversation_id: str | None
    execution_id: str
    message: str
    sent_at: datetime
    message_id: str | None = Field(
        default=None, description="The reply's id in the conversation's message log."
    )
    channel: str | None = None
    provider_message_id: str | None = Field(
        default=None, description="The provider's id of an SMS or WhatsApp message (its sid)."
    )


STATUS_CALLBACK_MESSAGE_ID = "message_id"
"""The query parameter of the gateway's Twilio status callback URL that names the outbound
message it reports on: the notifier adds it to the StatusCallback of every message it sends.
Twilio signs the URL with its query, so the gateway takes the id as said
(DeliveryStatusReported.message_id)."""


class DeliveryStatusReported(Event):
    """A provider's word on an outbound message (Twilio's status callback, a SendGrid event),
    verified by the gateway; the notifier records it on the message: by ``message_id`` when the
    callback named it, else by ``provider_message_id``. Keyed by ``provider_message_id``."""

    event_type: ClassVar[str] = "DeliveryStatusReported"
    tenant_id: str
    provider: str = Field(description="twilio, sendgrid, ...")
    provider_message_id: str = Field(description="e.g. Twilio's MessageSid")
    message_id: str | None = Field(
        default=None,
        pattern=MESSAGE_ID_PATTERN,
        description="The message in the conversation's log, when the callback's signed URL "
        "named it (STATUS_CALLBACK_MESSAGE_ID); None for a callback without it.",
    )
    status: str = Field(
        description="queued, sent, delivered, failed, undelivered, read, ...; an email's "
        "processed, deferred, delivered, bounced, dropped, opened, clicked"
    )
    error_code: str | None = None
    error_message: str | None = None
    reported_at: datetime
    event_id: str = Field(description="Unique per report: provider retries reuse it.")


class DeliveryFailed(Event):
    """Public: an execution's message did not reach the person: refused when sent (an invalid
    or unsubscribed number, a channel not connected) or reported failed or undelivered by the
    provider later. On ``connectflo.executions.v1``, keyed by execution id: a reply does not
    wait for its delivery, so this may come after the execution has ended."""

    event_type: ClassVar[str] = "DeliveryFailed"
    failure_id: str = Field(description="The same however often it is published: dedup on it.")
    tenant_id: str
    execution_id: str
    node_id: str
    notification_id: str
    message_id: str = Field(description="The message in the conversation's log.")
    conversation_id: str | None
    channel: str
    provider: str | None = Field(description="twilio, sendgrid, ...; None when nothing was sent.")
    provider_message_id: str | None = None
    status: str = Field(description="failed or undelivered; an email's bounced or dropped")
    error: JsonObject = Field(description="{type, code, message, retryable}")
    failed_at: datetime


class RoutingChanged(Event):
    """Command for the agent router (keyed by tenant id): something changed what it may
    assign. ``change`` is ``released`` (a conversation's agent let it go: it went back to the
    bot, closed, or was unassigned: its assignment ends and the agent's capacity frees),
    ``agent_available`` (an agent came online or got more capacity) or ``queue_changed``. The
    router then assigns the conversations waiting in the tenant's queues that now fit."""

    event_type: ClassVar[str] = "RoutingChanged"
    change_id: str = Field(description="Unique per change; a redelivery is applied once.")
    tenant_id: str
    change: Literal["released", "agent_available", "queue_changed"]
    conversation_id: str | None = None
    agent_id: str | None = None
    reason: str = ""
    by: str | None = Field(
        default=None, description="Who made the change: an agent id, or the execution's id."
    )
    cancel_runs: bool = Field(
        default=False,
        description="The conversation closed: the bot's runs in it other than ``by`` are "
        "cancelled (their waits and timers with them).",
    )
    at: datetime


class ConversationAssigned(Event):
    """Public: an agent got a conversation (Assign Agent, a takeover, or from a queue when the
    agent freed up), on ``connectflo.conversations.v1`` keyed by conversation id; the tenant's
    webhooks get it as ``conversation.assigned``."""

    event_type: ClassVar[str] = "ConversationAssigned"
    assignment_id: str = Field(description="The same however often it is published.")
    tenant_id: str
    conversation_id: str
    agent_id: str
    agent_name: str
    queue: str | None
    reason: str
    priority: int
    execution_id: str
    assigned_at: datetime


class SlaClockCrossed(Event):
    """Public: a conversation's SLA clock is at risk or breached (the scheduler's SLA keeper),
    on ``connectflo.conversations.v1`` keyed by conversation id; once per clock cycle and
    kind (``crossing_id`` is the same however often it is published). Seconds are business
    seconds of the policy's calendar."""

    event_type: ClassVar[str] = "SlaClockCrossed"
    crossing_id: str
    tenant_id: str
    conversation_id: str
    channel: str | None
    priority: str
    kind: Literal["at_risk", "breached"]
    policy_id: str
    policy_name: str
    metric: Literal["first_response", "next_response", "resolution"]
    target_seconds: float
    elapsed_seconds: float
    overrun_seconds: float
    started_at: datetime
    crossed_at: datetime = Field(description="When the clock crossed (business time reckoned).")
    due_at: datetime | None = Field(description="When it breaches (breached: when it did).")
    announced_at: datetime


class CallTurn(Event):
    """What a phone call says and does next, as the execution answering the caller decided
    (keyed by the call's sid): the gateway answers Twilio's pending voice request with it as
    TwiML. ``answers`` names the caller's input it answers, ``<CallSid>:<n>`` (the call
    coming in is ``:0``, each gathered answer the next number); ``verbs`` in order, each one
    of ``{"say": {"text"}}``, ``{"gather": {"timeout_seconds"}}``, ``{"enqueue": {"queue"}}``,
    ``{"dial": {"number"}}``, ``{"hangup": {}}``."""

    event_type: ClassVar[str] = "CallTurn"
    tenant_id: str
    call_sid: str
    conversation_id: str | None = None
    answers: str
    verbs: list[JsonObject]
    execution_id: str
    decided_at: datetime


class DeadLettered(Event):
    """A message that could not be handled after its attempts, with the error and its origin."""

    event_type: ClassVar[str] = "DeadLettered"
    dead_letter_id: str
    consumer: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_key: str | None
    original_headers: dict[str, str]
    original_value: str = Field(description="The original bytes, decoded as UTF-8 (replaced).")
    error_type: str
    error: str
    attempts: int
    failed_at: datetime

    def document(self) -> dict[str, Any]:
        """The copy kept in the `dead_letters` collection (`_id` = the dead letter id). NUL
        characters become U+FFFD there: some MongoDB-wire servers cannot store them (FerretDB
        on PostgreSQL); the event on the topic keeps the value exactly."""
        return {"_id": self.dead_letter_id, **_without_nul(self.model_dump())}


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


EVENT_TYPES: dict[str, type[Event]] = {}
for _model in (
    TriggerReceived,
    ExecutionRequested,
    EffectSettled,
    ExecutionCancelRequested,
    ExecutionRetryRequested,
    ExecutionRepairRequested,
    MessageQueued,
    ExecutionStarted,
    ExecutionWaiting,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    NodesStepped,
    NotificationRequested,
    IntegrationRequested,
    TimerRequested,
    TimerCancelRequested,
    ReplySent,
    CallTurn,
    DeliveryStatusReported,
    DeliveryFailed,
    RoutingChanged,
    ConversationAssigned,
    SlaClockCrossed,
    DeadLettered,
):
    if _model.event_type in EVENT_TYPES:
        raise RuntimeError(f"duplicate event type {_model.event_type}")
    EVENT_TYPES[_model.event_type] = _model


def event_type_of(name: str) -> type[Event]:
    """The model class for a ``ce_type`` value; KeyError names the unknown type."""
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown event type {name!r}") from None
