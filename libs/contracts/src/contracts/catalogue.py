"""Which events travel on which topic, with which key, sent and received by which service.

The one place this is written down: the AsyncAPI document (``contracts.asyncapi``) is generated
from it, docs/architecture.md's *Topics and keys* table says the same in words, and a test
checks that every event type is on a topic. When a service starts sending an event on a topic
(or reading one), it is added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts import topics
from contracts.events import (
    CallTurn,
    ConversationAssigned,
    DeadLettered,
    DeliveryFailed,
    DeliveryStatusReported,
    EffectSettled,
    Event,
    ExecutionCancelled,
    ExecutionCancelRequested,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionRepairRequested,
    ExecutionRequested,
    ExecutionRetryRequested,
    ExecutionStarted,
    ExecutionWaiting,
    IntegrationRequested,
    MessageQueued,
    NodesStepped,
    NotificationRequested,
    ReplySent,
    RoutingChanged,
    SlaClockCrossed,
    TimerCancelRequested,
    TimerRequested,
    TriggerReceived,
)

Service = Literal["trigger-gateway", "executor", "integrations", "notifier", "scheduler"]
SERVICES: tuple[Service, ...] = (
    "trigger-gateway",
    "executor",
    "integrations",
    "notifier",
    "scheduler",
)


@dataclass(frozen=True, slots=True)
class Flow:
    """A service's part on a topic: it sends these events, or it receives what is there."""

    service: Service
    action: Literal["send", "receive"]
    events: tuple[type[Event], ...] = ()
    """What it sends; a receiver reads the whole topic (empty: every event on it)."""


@dataclass(frozen=True, slots=True)
class TopicEvents:
    """One topic: what its messages are keyed by, which events it carries, who takes part."""

    topic: str
    key: str
    events: tuple[type[Event], ...]
    flows: tuple[Flow, ...]
    public: bool = False
    """Consumed by other company systems: its events are a published API."""


def _send(service: Service, *events: type[Event]) -> Flow:
    return Flow(service, "send", events)


def _receive(service: Service) -> Flow:
    return Flow(service, "receive")


_CONSUMING: tuple[Service, ...] = ("executor", "integrations", "notifier", "scheduler")
"""The services that consume with the kit's delivery rule: what fails for good, they dead-letter."""

_COMMANDS = (
    ExecutionRequested,
    EffectSettled,
    ExecutionCancelRequested,
    ExecutionRetryRequested,
    MessageQueued,
    ExecutionRepairRequested,
)
_LIFECYCLE = (
    ExecutionStarted,
    ExecutionWaiting,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionCancelled,
)

TOPIC_EVENTS: dict[str, TopicEvents] = {
    entry.topic: entry
    for entry in (
        TopicEvents(
            topics.TRIGGERS,
            "The conversation id, else the tenant id (a schedule's trigger: the schedule id), "
            "so that a customer's messages stay in order.",
            (TriggerReceived,),
            (
                _send("trigger-gateway", TriggerReceived),
                _send("scheduler", TriggerReceived),  # schedules, SLA crossings
                _send("executor", TriggerReceived),  # messages queued for a run that ended
                _receive("executor"),
                _receive("scheduler"),  # the SLA keeper
                _receive("notifier"),  # the tenants' webhooks
            ),
        ),
        TopicEvents(
            topics.EXECUTION_COMMANDS,
            "The execution id: one partition, so one executor at a time, owns an execution.",
            _COMMANDS,
            (
                _send(
                    "executor",
                    ExecutionRequested,
                    EffectSettled,
                    ExecutionCancelRequested,
                    MessageQueued,
                ),
                _send(
                    "trigger-gateway",
                    ExecutionCancelRequested,
                    ExecutionRetryRequested,
                    EffectSettled,
                ),
                _send("integrations", EffectSettled),
                _send("notifier", EffectSettled, ExecutionCancelRequested),
                _send("scheduler", EffectSettled, ExecutionRepairRequested),
                _receive("executor"),
            ),
        ),
        TopicEvents(
            topics.EXECUTIONS,
            "The execution id.",
            (*_LIFECYCLE, DeliveryFailed),
            (_send("executor", *_LIFECYCLE), _send("notifier", DeliveryFailed)),
            public=True,
        ),
        TopicEvents(
            topics.NODE_STEPS,
            "The execution id.",
            (NodesStepped,),
            (_send("executor", NodesStepped),),
            public=True,
        ),
        TopicEvents(
            topics.NOTIFICATION_REQUESTS,
            "The execution id (an agent's message sent through the API: the conversation id).",
            (NotificationRequested,),
            (
                _send("executor", NotificationRequested),
                _send("trigger-gateway", NotificationRequested),
                _send("notifier", NotificationRequested),  # the agent router's notices
                _receive("notifier"),
            ),
        ),
        TopicEvents(
            topics.INTEGRATION_REQUESTS,
            "The execution id.",
            (IntegrationRequested,),
            (_send("executor", IntegrationRequested), _receive("integrations")),
        ),
        TopicEvents(
            topics.TIMER_REQUESTS,
            "The execution id (the partition is the scheduler replica's lease on the timer).",
            (TimerRequested, TimerCancelRequested),
            (_send("executor", TimerRequested, TimerCancelRequested), _receive("scheduler")),
        ),
        TopicEvents(
            topics.REPLIES,
            "The conversation id.",
            (ReplySent,),
            (_send("notifier", ReplySent), _receive("trigger-gateway")),
        ),
        TopicEvents(
            topics.DELIVERY_STATUS,
            "The provider's message id (Twilio's MessageSid, SendGrid's message id).",
            (DeliveryStatusReported,),
            (_send("trigger-gateway", DeliveryStatusReported), _receive("notifier")),
        ),
        TopicEvents(
            topics.CALLS,
            "The call sid.",
            (CallTurn,),
            (_send("executor", CallTurn), _receive("trigger-gateway")),
        ),
        TopicEvents(
            topics.AGENT_ROUTING,
            "The tenant id: one consumer at a time decides a tenant's assignments.",
            (NotificationRequested, RoutingChanged),
            (
                _send("executor", NotificationRequested, RoutingChanged),
                _send("trigger-gateway", RoutingChanged),
                _receive("notifier"),
            ),
        ),
        TopicEvents(
            topics.CONVERSATIONS,
            "The conversation id.",
            (ConversationAssigned, SlaClockCrossed),
            (_send("notifier", ConversationAssigned), _send("scheduler", SlaClockCrossed)),
            public=True,
        ),
        TopicEvents(
            topics.DEAD_LETTERS,
            "The original message's key.",
            (DeadLettered,),
            tuple(_send(service, DeadLettered) for service in _CONSUMING),
        ),
    )
}
"""Topic name -> its key, events and flows, in the order of ``contracts.topics.ALL_TOPICS``."""


def topics_of(event: type[Event]) -> list[str]:
    """The topics an event travels on."""
    return [entry.topic for entry in TOPIC_EVENTS.values() if event in entry.events]
