"""Sentiment Negative: starts the workflow when a message is reported as negative.

Every customer message's sentiment is scored (VADER's compound score) before triggers are
matched, and offered to the Sentiment Negative workflows (a caller may also post
`sentiment_negative` itself). Scores run from -1 (angry) to 1 (delighted); the score is
`trigger.score`, VADER's label `trigger.sentiment`. Only a report at or
below `threshold` starts the workflow (a report without a score does not).
"""

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    threshold: float = Field(default=-0.5, ge=-1.0, le=1.0)


@node_kind("trigger.sentiment_negative", labels=("Sentiment Negative",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"score": ctx.trigger_payload.get("score")})


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why a sentiment report does not start the workflow, or None when it does."""
    score = trigger.get("score")
    if not isinstance(score, int | float) or isinstance(score, bool):
        return f"no score given (at most {config.threshold} needed)"
    if score > config.threshold:
        return f"score {score} is above the threshold {config.threshold}"
    return None
