"""Intent Detected: starts the workflow when an intent is detected in a customer message.

The workflow reads `trigger.intent`, `trigger.confidence` and `trigger.text`. `intent` and
`minConfidence` are documented but not applied yet: every detected intent starts the workflow,
whatever its name and confidence (issue 11 applies trigger filters).
"""

from pydantic import Field

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    intent: str | None = None
    minConfidence: float = Field(default=0.0, ge=0.0, le=1.0)


@node_kind("trigger.intent_detected", labels=("Intent Detected",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"intent": ctx.trigger_payload.get("intent", config.intent)})
