"""Add Tag: adds `tags` to the conversation (for inbox filters and reporting).

Tags are interpolated, blank ones dropped, duplicates removed in order.
"""

from pydantic import Field

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    as_text,
    node_kind,
)


class Config(EffectConfig):
    tags: list[str] = Field(min_length=1)


@node_kind(
    "action.add_tag",
    labels=("Add Tag", "Tag"),
    effect=EffectTarget.NOTIFIER,
    awaits_result=False,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is not None:
        return NodeOutcome(output=ctx.delivered)
    tags = list(dict.fromkeys(t for t in (as_text(tag).strip() for tag in config.tags) if t))
    return ctx.request({"conversationId": ctx.conversation_key(), "tags": tags})
