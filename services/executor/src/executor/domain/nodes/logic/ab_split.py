"""A/B Split: sends the path down one weighted variant; the ports are the variant names.

The choice is deterministic and sticky: a hash of the conversation (or, without one, the
execution), the workflow and this node picks the variant, so a customer sees the same variant
every time, with no randomness. A variant already recorded for the conversation is kept even if
the weights change. The choice is in the node run's output, in `workflow.abVariants.<node id>`
and in `conversation.abVariants.<node id>`. Edge labels match variant names, case-insensitive.
"""

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=0)


class Config(NodeConfig):
    variants: list[Variant] = Field(min_length=1)
    sticky: Literal["conversation", "execution"] = "conversation"

    @model_validator(mode="after")
    def _distinct(self) -> "Config":
        names = [variant.name.strip().lower() for variant in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be distinct")
        if sum(variant.weight for variant in self.variants) <= 0:
            raise ValueError("at least one variant needs a positive weight")
        return self

    def output_ports(self, declared: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(variant.name.strip().lower() for variant in self.variants)

    def produced_paths(self) -> tuple[str, ...]:
        return ("workflow.abVariants",)


def choose(config: Config, key: str) -> Variant:
    """The variant whose weight band holds the hash of `key` (uniform over [0, total))."""
    digest = hashlib.sha256(key.encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in config.variants)
    for variant in config.variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return next(v for v in reversed(config.variants) if v.weight > 0)


@node_kind("logic.ab_split", labels=("A/B Split", "AB Split", "A/B Test"), ports=())
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    variables = ctx.context["variables"]
    remembered = (variables["conversation"].get("abVariants") or {}).get(ctx.node_id)
    names = {variant.name: variant for variant in config.variants}
    if config.sticky == "conversation" and remembered in names:
        variant, sticky = names[remembered], True
    else:
        subject = ctx.conversation_key() if config.sticky == "conversation" else ""
        subject = subject or str(ctx.execution.get("id", ""))
        key = f"{subject}:{ctx.execution.get('workflowId', '')}:{ctx.node_id}"
        variant, sticky = choose(config, key), False
    variables["workflow"].setdefault("abVariants", {})[ctx.node_id] = variant.name
    if config.sticky == "conversation":
        variables["conversation"].setdefault("abVariants", {})[ctx.node_id] = variant.name
    port = variant.name.strip().lower()
    return NodeOutcome(port=port, output={"variant": variant.name, "remembered": sticky})
