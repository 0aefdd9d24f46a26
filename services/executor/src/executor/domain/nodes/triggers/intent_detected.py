"""Intent Detected: starts the workflow when an intent is detected in a customer message.

Every customer message is classified against the tenant's declared intents
(`PUT /v1/classification`) before triggers are matched; a message whose best intent passed the
tenant's `min_confidence` starts the Intent Detected workflows (a caller may also post
`intent_detected` itself). The workflow reads `trigger.intent`, `trigger.confidence` and
`trigger.text`. With `intent` set, only that intent starts the workflow; with
`minConfidence` above 0, only a detection at least that confident (`trigger.confidence`,
from 0 to 1; a detection without one does not).
"""

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    intent: str | None = None
    minConfidence: float = Field(default=0.0, ge=0.0, le=1.0)


@node_kind("trigger.intent_detected", labels=("Intent Detected",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"intent": ctx.trigger_payload.get("intent", config.intent)})


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why a detected intent does not start the workflow, or None when it does."""
    intent = trigger.get("intent")
    if config.intent is not None and intent != config.intent:
        return f"intent {intent!r} is not {config.intent!r}"
    if config.minConfidence > 0:
        confidence = trigger.get("confidence")
        if not isinstance(confidence, int | float) or isinstance(confidence, bool):
            return f"no confidence given (at least {config.minConfidence} needed)"
        if confidence < config.minConfidence:
            return f"confidence {confidence} is below {config.minConfidence}"
    return None
