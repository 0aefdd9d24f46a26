"""Remove Tag: removes `tags` from the conversation (tags it does not have are ignored).

Written by the executor with the rest of the step, like Add Tag; the path goes on at once.
"""

from pydantic import Field

from executor.domain.nodes.actions.add_tag import clean_tags
from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    node_kind,
)


class Config(EffectConfig):
    tags: list[str] = Field(min_length=1)


@node_kind(
    "action.remove_tag",
    labels=("Remove Tag", "Untag"),
    effect=EffectTarget.EXECUTOR,
    awaits_result=False,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is not None:
        return NodeOutcome(output=ctx.delivered)
    return ctx.request({"conversationId": ctx.conversation_key(), "tags": clean_tags(config.tags)})
