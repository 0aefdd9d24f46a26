"""Sentiment Negative: starts the workflow when a message is reported as negative.

Scores run from -1 (angry) to 1 (delighted); the score is `trigger.score`. `threshold` is
documented but not applied yet: every report starts the workflow, whatever its score (issue 11
applies trigger filters).
"""

from pydantic import Field

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    threshold: float = Field(default=-0.5, ge=-1.0, le=1.0)


@node_kind("trigger.sentiment_negative", labels=("Sentiment Negative",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"score": ctx.trigger_payload.get("score")})
