"""Add Tag: adds `tags` to the conversation (inbox filters, reporting, routing).

Tags are interpolated, blank ones dropped, duplicates removed in order. The executor writes
them on the conversation with the rest of the step (no other service involved) and the path
goes on at once; the output is `{tags, conversationId}`. Outside a conversation nothing is
tagged (`status: no_conversation`).
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


def clean_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(t for t in (as_text(tag).strip() for tag in tags) if t))


@node_kind(
    "action.add_tag",
    labels=("Add Tag", "Tag"),
    effect=EffectTarget.EXECUTOR,
    awaits_result=False,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is not None:
        return NodeOutcome(output=ctx.delivered)
    return ctx.request({"conversationId": ctx.conversation_key(), "tags": clean_tags(config.tags)})
