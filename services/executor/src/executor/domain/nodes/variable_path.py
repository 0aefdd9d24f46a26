"""Variable paths a node may write: the three variable scopes, short or long form."""

from typing import Annotated

from pydantic import AfterValidator

WRITABLE_SCOPES = ("workflow", "conversation", "global")


def writable_path(path: str) -> str:
    """Accept `workflow.x`, `conversation.x`, `global.x` (or `variables.<scope>.x`)."""
    path = path.strip()
    if "{{" in path:  # resolved per run; checked when it is set
        return path
    parts = path.split(".")
    if parts[0] == "variables":
        parts = parts[1:]
    if len(parts) < 2 or parts[0] not in WRITABLE_SCOPES or not all(parts[1:]):
        raise ValueError(
            f"{path!r} is not a variable path: use workflow.<name>, conversation.<name> "
            "or global.<name>"
        )
    return path


def variable_name(name: str) -> str:
    """A name under `workflow.` (an output variable, a loop's item variable)."""
    name = name.strip()
    if not name or "{{" in name or name.startswith("."):
        raise ValueError(f"{name!r} is not a variable name")
    return name


WritablePath = Annotated[str, AfterValidator(writable_path)]
VariableName = Annotated[str, AfterValidator(variable_name)]
