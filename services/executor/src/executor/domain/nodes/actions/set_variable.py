"""Set Variable: writes a workflow, conversation or global variable.

`path` is `workflow.<name>` (this execution), `conversation.<name>` (kept across executions of
the conversation) or `global.<name>` (the tenant's); nested paths and list indexes work
(`workflow.order.lines.0.sku`). `operation`:
`set` stores `value`; `increment` adds `value` (default 1) to a number (a missing variable counts
as 0); `append` adds `value` to a list (a missing variable becomes a list); `remove` deletes the
variable, or, when `value` is given and the variable is a list, removes the equal items.
`value` is interpolated; a value that is exactly one `{{ placeholder }}` keeps its type.
"""

import copy
from typing import Any, Literal

from executor.domain.expressions import MISSING, delete_path, get_path
from executor.domain.nodes.contract import (
    NodeConfig,
    NodeContext,
    NodeFailed,
    NodeOutcome,
    node_kind,
)
from executor.domain.nodes.variable_path import WRITABLE_SCOPES, WritablePath, writable_path


class Config(NodeConfig):
    path: WritablePath
    value: Any = None
    operation: Literal["set", "increment", "append", "remove"] = "set"

    def produced_paths(self) -> tuple[str, ...]:
        return (self.path,) if "{{" not in self.path else ()


def _number(value: Any, what: str) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise NodeFailed(f"cannot increment: {what} {value!r} is not a number")


def _scope_of(ctx: NodeContext, path: str) -> dict[str, Any] | None:
    """The scope's dict when `path` is `<scope>.<name>`, the common case written directly."""
    scope, _, name = path.partition(".")
    if scope not in WRITABLE_SCOPES or not name.isidentifier():
        return None
    variables = ctx.context["variables"].get(scope)
    return variables if isinstance(variables, dict) else None


def _apply(ctx: NodeContext, config: Config, path: str) -> Any:
    scope = _scope_of(ctx, path)
    name = path.partition(".")[2]
    if config.operation == "set":
        new = config.value
    else:
        current = scope.get(name, MISSING) if scope is not None else get_path(ctx.context, path)
        if config.operation == "increment":
            step = 1 if config.value is None else _number(config.value, "the amount")
            new = (0 if current is MISSING or current is None else _number(current, path)) + step
        elif config.operation == "append":
            if current is MISSING or current is None:
                new = [config.value]
            elif isinstance(current, list):
                current.append(config.value)  # in place: appending in a loop stays linear
                return current
            else:
                raise NodeFailed(f"cannot append: {path} is {type(current).__name__}, not a list")
        elif config.value is not None and isinstance(current, list):
            current[:] = [item for item in current if item != config.value]
            return current
        else:
            if scope is not None:
                scope.pop(name, None)
            elif current is not MISSING:
                delete_path(ctx.context, path)
            return None
    if scope is not None:
        scope[name] = new
    else:
        ctx.set(path, new)
    return new


@node_kind("action.set_variable", labels=("Set Variable",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    path = config.path
    if "{{" in path:
        raise NodeFailed(f"variable path {path} has unresolved placeholders", code="invalid_path")
    if not path.startswith(("workflow.", "conversation.", "global.")):
        try:
            path = writable_path(path)
        except ValueError as error:
            raise NodeFailed(str(error), code="invalid_path") from error
    value = _apply(ctx, config, path)
    output: dict[str, Any] = {"path": path, "operation": config.operation}
    if isinstance(value, list) and config.operation in ("append", "remove"):
        # The list lives on in the context; record its size rather than an alias of it.
        output["length"] = len(value)
    else:
        output["value"] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    return NodeOutcome(output=output)
