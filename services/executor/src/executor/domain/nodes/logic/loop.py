"""Loop: runs the `body` branch once per iteration, then continues on `done`.

`type` is `forEach` (over the list at `arrayPath`, the item in `workflow.<itemVariable>`), `count`
(`count` times, which may be a template) or `while` (as long as `condition` holds). The index is
in `workflow.<indexVariable>`. `breakCondition` is checked when an iteration starts, with its
item and index already set: when it holds, the loop leaves by `done` without running that turn.
An iteration ends when every path of its body has ended (or come back to the Loop node by an
edge); then the next one starts. The loop is bounded: `maxIterations` (default and
hard cap 1,000, or the tenant's `resources.limits.maxLoopIterations`). Needing more iterations
than that fails the node rather than silently dropping items.
"""

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from executor.domain.nodes.condition_field import CompiledCondition
from executor.domain.nodes.contract import (
    Control,
    NodeConfig,
    NodeContext,
    NodeFailed,
    NodeOutcome,
    node_kind,
)
from executor.domain.nodes.variable_path import VariableName

DEFAULT_MAX_ITERATIONS = 1000


class Config(NodeConfig):
    raw_fields = frozenset({"arrayPath", "condition", "breakCondition"})

    type: Literal["forEach", "while", "count"] = "forEach"
    arrayPath: str | None = None
    itemVariable: VariableName = "item"
    indexVariable: VariableName = "index"
    count: int | str | None = None
    condition: CompiledCondition | None = None
    breakCondition: CompiledCondition | None = None
    maxIterations: int | None = Field(default=None, ge=1)

    @field_validator("arrayPath")
    @classmethod
    def _bare_path(cls, path: str | None) -> str | None:
        if path is None:
            return None
        path = path.strip()
        if path.startswith("{{") and path.endswith("}}"):
            path = path[2:-2].strip()
        if not path:
            raise ValueError("arrayPath is empty")
        return path

    @model_validator(mode="after")
    def _type_fields(self) -> "Config":
        needed = {"forEach": "arrayPath", "count": "count", "while": "condition"}[self.type]
        if getattr(self, needed) is None:
            raise ValueError(f"a {self.type} loop needs {needed}")
        if isinstance(self.count, str) and "{{" not in self.count:
            _count(self.count)
        return self

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.itemVariable}", f"workflow.{self.indexVariable}")

    def read_paths(self) -> tuple[str, ...]:
        paths = [self.arrayPath] if self.arrayPath else []
        for condition in (self.condition, self.breakCondition):
            if condition is not None:
                paths.extend(condition.paths)
        return tuple(paths)


def _count(value: Any) -> int:
    try:
        count = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"loop count {value!r} is not a whole number") from None
    if count < 0:
        raise ValueError("loop count cannot be negative")
    return count


def _start(ctx: NodeContext, config: Config, limit: int) -> dict[str, Any]:
    """Fix what the loop iterates over when it is entered."""
    if config.type == "forEach":
        assert config.arrayPath is not None
        items = ctx.get(config.arrayPath)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise NodeFailed(f"{config.arrayPath} is {type(items).__name__}, not a list")
        total = len(items)
        state: dict[str, Any] = {"items": items, "total": total}
    elif config.type == "count":
        try:
            total = _count(config.count)
        except ValueError as error:
            raise NodeFailed(str(error)) from error
        state = {"total": total}
    else:
        return {}
    if total > limit:
        raise NodeFailed(
            f"{config.type} loop needs {total} iterations, over its limit of {limit}",
            code="loop_limit",
        )
    return state


@node_kind("logic.loop", labels=("Loop", "For Each"), ports=("body", "done"), control=Control.LOOP)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    frame = ctx.frame if ctx.frame is not None else {}
    cap = ctx.limit("maxLoopIterations", DEFAULT_MAX_ITERATIONS)
    limit = min(config.maxIterations or cap, cap)
    if "index" not in frame:
        frame.update(_start(ctx, config, limit))
    index = frame.get("index", -1) + 1
    frame["index"] = index
    if config.type == "while":
        assert config.condition is not None
        if not config.condition.evaluate(ctx.context):
            return NodeOutcome(port="done", output={"iterations": index, "broken": False})
        if index >= limit:
            raise NodeFailed(
                f"while loop still running after {limit} iterations", code="loop_limit"
            )
        item: Any = index
    elif index >= frame["total"]:
        return NodeOutcome(port="done", output={"iterations": index, "broken": False})
    else:
        item = frame["items"][index] if config.type == "forEach" else index
    for name, value in ((config.itemVariable, item), (config.indexVariable, index)):
        if name.isidentifier():  # the common case, without parsing a path every iteration
            ctx.context["variables"]["workflow"][name] = value
        else:
            ctx.set(f"workflow.{name}", value)
    if config.breakCondition is not None and config.breakCondition.evaluate(ctx.context):
        return NodeOutcome(port="done", output={"iterations": index, "broken": True})
    return NodeOutcome(port="body", output={"index": index})
