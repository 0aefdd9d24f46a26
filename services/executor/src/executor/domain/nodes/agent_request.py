"""What Assign Agent and Human Handoff tell the agent router about the conversation: the
routing asked for and the signals its priority comes from (a VIP customer, negative
sentiment, an SLA at risk)."""

from typing import Any, Literal

from executor.domain.nodes.contract import NodeContext

Priority = Literal["auto", "low", "normal", "high", "urgent"]
SENTIMENT_NEGATIVE = "Sentiment Negative"
SLA_TRIGGERS = ("SLA Breached", "SLA At Risk")


def signals(ctx: NodeContext) -> dict[str, bool]:
    customer = ctx.get("customer") or {}
    customer = customer if isinstance(customer, dict) else {}
    tags = {str(t).lower() for t in customer.get("tags") or () if isinstance(t, str)}
    metadata = customer.get("metadata") if isinstance(customer.get("metadata"), dict) else {}
    trigger = ctx.trigger_payload
    score = trigger.get("score", trigger.get("sentiment"))
    negative = isinstance(score, int | float) and not isinstance(score, bool) and score < 0
    kind = (ctx.context.get("trigger") or {}).get("type")
    return {
        "vip": "vip" in tags or bool(customer.get("vip")) or bool((metadata or {}).get("vip")),
        "negativeSentiment": negative or kind == SENTIMENT_NEGATIVE,
        "slaAtRisk": kind in SLA_TRIGGERS or bool(trigger.get("slaAtRisk")),
    }


def routing(
    ctx: NodeContext,
    *,
    queue: str | None,
    agent_id: str | None,
    strategy: str,
    skills: list[str],
    languages: list[str],
    priority: Priority,
) -> dict[str, Any]:
    customer = ctx.get("customer") or {}
    language = customer.get("language") if isinstance(customer, dict) else None
    if not languages and isinstance(language, str) and language:
        languages = [language]
    request: dict[str, Any] = {
        "conversationId": ctx.conversation_key(),
        "queue": queue,
        "agentId": agent_id,
        "strategy": strategy,
        "skills": list(skills),
        "languages": list(languages),
        "signals": signals(ctx),
    }
    if priority != "auto":
        request["priority"] = priority
    return request
