"""Kafka topic names and partition counts: the one place they are defined.

Topics are created by our own code (``servicekit.topics``: run by ``deploy/local/kafka_topics.py``
locally and by the Helm chart's topics Job in a cluster, whose list in
``deploy/helm/connectflo/values.yaml`` a test keeps equal to this one) with the partition counts
below; the broker never auto-creates them. The executor's replicas are bounded by the commands
topic's partitions (the chart refuses more).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic's name and its partition count."""

    name: str
    partitions: int


TRIGGERS = "connectflo.triggers.v1"
"""TriggerReceived, keyed by conversation id (or tenant id): a customer's messages stay in order."""

EXECUTION_COMMANDS = "connectflo.executions.commands.v1"
"""Commands for one execution (start, resume with a result), keyed by execution id."""

EXECUTIONS = "connectflo.executions.v1"
"""Public lifecycle events: ExecutionStarted / ExecutionCompleted / ExecutionFailed, and the
notifier's DeliveryFailed (an execution's message that did not reach the person)."""

NODE_STEPS = "connectflo.node-steps.v1"
"""Public progress events: one NodesStepped per command (its node runs), keyed by execution id."""

NOTIFICATION_REQUESTS = "connectflo.notifications.requests.v1"
"""Requests to the notifier (Send Reply, email, SMS, ...), keyed by execution id."""

INTEGRATION_REQUESTS = "connectflo.integrations.requests.v1"
"""Requests to the integrations service, keyed by execution id."""

TIMER_REQUESTS = "connectflo.timers.requests.v1"
"""Requests to the scheduler (start or cancel a timer), keyed by execution id."""

REPLIES = "connectflo.replies.v1"
"""Replies delivered to a conversation (chat channel), keyed by conversation id."""

CALLS = "connectflo.calls.v1"
"""CallTurn: what a phone call says and does next (TwiML for the gateway), keyed by call sid."""

DELIVERY_STATUS = "connectflo.deliveries.status.v1"
"""DeliveryStatusReported from providers' callbacks, keyed by the provider's message id."""

AGENT_ROUTING = "connectflo.agent-routing.v1"
"""Work for the agent router (the notifier), keyed by tenant id, so that one consumer at a time
decides a tenant's assignments: Assign Agent and Human Handoff requests (NotificationRequested)
and RoutingChanged (an agent came online, a conversation went back to the bot or closed)."""

CONVERSATIONS = "connectflo.conversations.v1"
"""Public conversation events, keyed by conversation id: ConversationAssigned (an agent got
the conversation, at once or from a queue) and SlaClockCrossed (an SLA clock at risk or
breached)."""

DEAD_LETTERS = "connectflo.dead-letters.v1"
"""Messages that could not be handled after their retries, with the error and the origin."""

ALL_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(TRIGGERS, 6),
    TopicSpec(EXECUTION_COMMANDS, 6),
    TopicSpec(EXECUTIONS, 6),
    TopicSpec(NODE_STEPS, 6),
    TopicSpec(NOTIFICATION_REQUESTS, 6),
    TopicSpec(INTEGRATION_REQUESTS, 6),
    TopicSpec(TIMER_REQUESTS, 6),
    TopicSpec(REPLIES, 6),
    TopicSpec(DELIVERY_STATUS, 6),
    TopicSpec(CALLS, 6),
    TopicSpec(AGENT_ROUTING, 6),
    TopicSpec(CONVERSATIONS, 6),
    TopicSpec(DEAD_LETTERS, 1),
)


def partitions_of(topic: str) -> int:
    """The partition count the topic is created with (deploy/local/kafka_topics.py, Helm)."""
    return next(spec.partitions for spec in ALL_TOPICS if spec.name == topic)
