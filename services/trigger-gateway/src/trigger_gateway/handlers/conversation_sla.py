"""A conversation's SLA clocks as the API shows them (`sla` of a conversation, and
`/v1/conversations/{id}/sla`): reckoned now from the tenant's policies, the conversation's
priority, channel and status log, and its message log (clocks.conversations, as the
scheduler's SLA keeper reckons them)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from clocks.conversations import (
    clock_view,
    policy_for,
    priority_of,
    rules_of,
    timeline_of,
)
from clocks.sla import clocks
from contracts.sla import Metric, SlaPolicySpec
from pydantic import BaseModel, Field, ValidationError

from trigger_gateway.adapters.conversations import ConversationRepository
from trigger_gateway.adapters.sla_policies import SlaPolicyRepository, spec_of

log = logging.getLogger(__name__)
TIMELINE_MESSAGES = 2000
"""The newest messages a conversation's clocks are reckoned from."""


class SlaClockView(BaseModel):
    metric: Metric
    state: Literal["running", "paused", "met", "breached"]
    paused_because: str | None = Field(
        description="`waiting on the customer` or `outside business hours` while paused."
    )
    started_at: datetime = Field(description="The customer's message that started it.")
    stopped_at: datetime | None
    stopped_by: Literal["reply", "closed"] | None
    target_seconds: float = Field(description="Business seconds.")
    elapsed_seconds: float
    remaining_seconds: float
    overrun_seconds: float
    at_risk: bool
    at_risk_at: datetime | None = Field(
        description="When it is (or was) at risk; null when it stopped first or while it "
        "waits on the customer."
    )
    due_at: datetime | None = Field(description="When it is (or was) breached; null likewise.")


class SlaView(BaseModel):
    policy_id: str
    policy_name: str
    clocks: list[SlaClockView] = Field(description="Each cycle of each metric, by its start.")


def _specs(docs: list[dict[str, Any]]) -> list[tuple[str, SlaPolicySpec]]:
    specs = []
    for doc in docs:
        try:
            specs.append((str(doc["_id"]), spec_of(doc)))
        except ValidationError:  # stored by another version: not one a conversation follows
            log.warning("SLA policy %s does not read as a policy; skipped", doc["_id"])
    return specs


async def sla_of(
    policies: SlaPolicyRepository,
    conversations: ConversationRepository,
    tenant_id: str,
    conversation_id: str,
    conversation: dict[str, Any],
    now: datetime,
) -> SlaView | None:
    """The clocks of the policy covering the conversation's channel; None when none does."""
    channel = conversation.get("channel")
    chosen = policy_for(_specs(await policies.list(tenant_id)), channel)
    if chosen is None:
        return None
    policy_id, spec = chosen
    messages = await conversations.timeline_messages(
        tenant_id, conversation_id, limit=TIMELINE_MESSAGES
    )
    rules = rules_of(spec, priority_of(conversation), channel)
    timeline = timeline_of(conversation, messages, spec.replies_that_count)
    return SlaView(
        policy_id=policy_id,
        policy_name=spec.name,
        clocks=[SlaClockView(**clock_view(c, now)) for c in clocks(rules, timeline, now)],
    )
