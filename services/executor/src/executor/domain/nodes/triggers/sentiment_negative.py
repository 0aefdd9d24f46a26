"""Sentiment Negative: starts the workflow when a message's sentiment score is at most `threshold`.

Scores run from -1 (angry) to 1 (delighted); the score is `trigger.score`.
"""

from pydantic import Field

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    threshold: float = Field(default=-0.5, ge=-1.0, le=1.0)


@node_kind("trigger.sentiment_negative", labels=("Sentiment Negative",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"score": ctx.trigger_payload.get("score")})
