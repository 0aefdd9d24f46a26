"""Which service answers which effect: the request topic for a node kind."""

from __future__ import annotations

from contracts import topics

NOTIFIER_KINDS = frozenset(
    {
        "action.send_reply",
        "action.send_email",
        "action.assign_agent",
        "action.add_tag",
        "action.end_chat",
        "integration.slack",
        "integration.teams",
        "integration.twilio_sms",
        "integration.sendgrid",
        "advanced.human_handoff",
    }
)
SCHEDULER_KINDS = frozenset({"logic.wait_delay", "advanced.wait_for_reply"})


def request_topic(kind: str) -> str:
    """Notifier for messages to people, scheduler for time, integrations for the rest."""
    if kind in NOTIFIER_KINDS:
        return topics.NOTIFICATION_REQUESTS
    if kind in SCHEDULER_KINDS:
        return topics.TIMER_REQUESTS
    return topics.INTEGRATION_REQUESTS
