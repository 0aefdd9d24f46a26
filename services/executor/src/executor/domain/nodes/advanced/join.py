"""Join: waits for parallel branches to meet, then continues once on `out`.

`mode` `all` waits for every incoming edge to deliver a path, `any` continues with the first
arrival, `n` continues when `count` paths have arrived. Later arrivals end quietly. Inside a loop
each iteration joins separately. A branch that was routed elsewhere (a condition) never arrives:
an `all` join behind a condition then does not fire, so put the Join where every branch meets.
"""

from typing import Literal

from pydantic import Field, model_validator

from executor.domain.nodes.contract import (
    Control,
    NodeConfig,
    NodeContext,
    NodeOutcome,
    node_kind,
)


class Config(NodeConfig):
    mode: Literal["all", "any", "n"] = "all"
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _count(self) -> "Config":
        if self.mode == "n" and self.count is None:
            raise ValueError("mode n needs count")
        return self


@node_kind("advanced.join", labels=("Join", "Merge"), control=Control.JOIN)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    arrivals = ctx.frame if ctx.frame is not None else {}
    arrived = arrivals.get("arrived", 0) + 1
    arrivals["arrived"] = arrived
    expected = max(ctx.inbound, 1)
    needed = {"all": expected, "any": 1, "n": min(config.count or 1, expected)}[config.mode]
    if arrived == needed:
        return NodeOutcome(output={"arrived": arrived, "needed": needed})
    return NodeOutcome(port=None, output={"arrived": arrived, "needed": needed})
