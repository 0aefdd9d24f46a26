"""Variable paths: parse once, then read, write and delete inside a workflow context.

The rules are stated in the package docstring (`executor.domain.expressions`); this module is
their single implementation, so templates, conditions and Set Variable all agree.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final


class _Missing(enum.Enum):
    """The type of `MISSING`: an enum member so copy, deepcopy and pickle keep it a singleton."""

    MISSING = "MISSING"

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING
"""What a path that leads nowhere reads as; distinct from None, which is JSON null."""

VARIABLE_SCOPES: Final = ("workflow", "conversation", "global")
"""Writable scopes, reachable as `variables.<scope>` or by their short name."""

CONTEXT_ROOTS: Final = (
    "execution",
    "trigger",
    "variables",
    "customer",
    "resources",
    *VARIABLE_SCOPES,
)
"""First segments with a meaning of their own (the context's keys plus the short scopes)."""

# `trigger.type` and `trigger.source` fall back to the trigger envelope when the payload
# itself has no such field; every other `trigger.<field>` reads only the payload.
_TRIGGER_ENVELOPE_FIELDS: Final = frozenset({"type", "source"})

_INDEX = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)
_SEGMENT = re.compile(r"[^.\[\]]+")
_BRACKET = re.compile(r"\[(?:\"([^\"]*)\"|'([^']*)'|([^\]\"']+))\]")


@dataclass(frozen=True, slots=True)
class Segment:
    """One step of a path: a mapping key, and the list index it also denotes, if any."""

    key: str
    index: int | None


class PathSyntaxError(ValueError):
    """A path that cannot be parsed (empty segment, unbalanced bracket...)."""


def _segment(key: str) -> Segment:
    index = int(key) if _INDEX.fullmatch(key) else None
    return Segment(key, index)


@lru_cache(maxsize=8192)
def parse_path(path: str) -> tuple[Segment, ...]:
    """Split `path` into segments: `a.b`, `a.0`, `a[0]`, `a["x.y"]`; raises PathSyntaxError."""
    text = path.strip()
    if text.startswith("$"):
        # `$`-prefixed operands are paths in conditions; accept the same spelling everywhere.
        text = text[1:]
    segments: list[Segment] = []
    position = 0
    expect_segment = True
    while position < len(text):
        char = text[position]
        if char == "[":
            bracket = _BRACKET.match(text, position)
            if bracket is None or expect_segment:  # `[0]` must follow a segment, not a dot
                raise PathSyntaxError(f"bad bracket in path {path!r} at {position}")
            quoted = bracket.group(1) if bracket.group(1) is not None else bracket.group(2)
            if quoted is not None:
                segments.append(Segment(quoted, None))
            else:
                segments.append(_segment(bracket.group(3).strip()))
            position = bracket.end()
            expect_segment = False
        elif char == ".":
            if expect_segment:
                raise PathSyntaxError(f"empty segment in path {path!r} at {position}")
            position += 1
            expect_segment = True
        else:
            if not expect_segment:
                raise PathSyntaxError(f"missing '.' in path {path!r} at {position}")
            word = _SEGMENT.match(text, position)
            if word is None:
                raise PathSyntaxError(f"bad character in path {path!r} at {position}")
            segments.append(_segment(word.group()))
            position = word.end()
            expect_segment = False
    if expect_segment:
        raise PathSyntaxError(f"empty path or trailing '.' in {path!r}")
    return tuple(segments)


def is_valid_path(path: str) -> bool:
    """True when `path` parses; a reader of an invalid path always yields MISSING."""
    if not isinstance(path, str):
        return False
    try:
        parse_path(path)
    except PathSyntaxError:
        return False
    return True


def _walk(node: Any, segments: tuple[Segment, ...]) -> Any:
    for segment in segments:
        if isinstance(node, dict):
            node = node.get(segment.key, MISSING)
            if node is MISSING:
                return MISSING
        elif isinstance(node, list | tuple) and segment.index is not None:
            index = segment.index
            if -len(node) <= index < len(node):
                node = node[index]
            else:
                return MISSING
        else:
            return MISSING
    return node


def _mapping(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key, MISSING)
    return MISSING


def trigger_view(ctx: dict[str, Any]) -> dict[str, Any]:
    """The trigger as paths see it: envelope `type`/`source` overlaid by the payload's fields."""
    trigger = _mapping(ctx, "trigger")
    if not isinstance(trigger, dict):
        return {}
    view = {key: trigger[key] for key in _TRIGGER_ENVELOPE_FIELDS if key in trigger}
    payload = trigger.get("source")
    if isinstance(payload, dict):
        view.update(payload)
    return view


PathReader = Callable[[dict[str, Any]], Any]


def _missing_reader(ctx: dict[str, Any]) -> Any:
    return MISSING


def _scope_reader(scope: str, rest: tuple[Segment, ...]) -> PathReader:
    def read(ctx: dict[str, Any]) -> Any:
        variables = ctx.get("variables") if isinstance(ctx, dict) else None
        if not isinstance(variables, dict):
            return MISSING
        node = variables.get(scope, MISSING)
        return _walk(node, rest) if node is not MISSING else MISSING

    return read


def _trigger_reader(rest: tuple[Segment, ...]) -> PathReader:
    if not rest:
        return trigger_view
    head, tail = rest[0], rest[1:]

    def read(ctx: dict[str, Any]) -> Any:
        trigger = _mapping(ctx, "trigger")
        payload = _walk(_mapping(trigger, "source"), (head,))
        if payload is not MISSING:
            return _walk(payload, tail)
        if head.key in _TRIGGER_ENVELOPE_FIELDS:
            return _walk(trigger, rest)
        return MISSING

    return read


def _context_reader(segments: tuple[Segment, ...]) -> PathReader:
    def read(ctx: dict[str, Any]) -> Any:
        return _walk(ctx, segments)

    return read


@lru_cache(maxsize=8192)
def path_reader(path: str) -> PathReader:
    """A function reading `path` from a context, resolved once; invalid paths read MISSING."""
    try:
        segments = parse_path(path)
    except PathSyntaxError:
        return _missing_reader
    root, rest = segments[0].key, segments[1:]
    if root in VARIABLE_SCOPES:
        return _scope_reader(root, rest)
    if root == "trigger":
        return _trigger_reader(rest)
    return _context_reader(segments)


def get_path(ctx: dict[str, Any], path: str) -> Any:
    """The value at `path` in `ctx`, or MISSING when any segment is absent; never raises."""
    if not isinstance(path, str):
        return MISSING
    return path_reader(path)(ctx)


def _writable(path: str) -> tuple[str, tuple[Segment, ...]]:
    """The variable scope and the segments under it, or a ValueError naming the path."""
    try:
        segments = parse_path(path) if isinstance(path, str) else ()
    except PathSyntaxError as error:
        raise ValueError(f"cannot write {path!r}: {error}") from None
    if not segments:
        raise ValueError(f"cannot write {path!r}: not a path")
    keys = [segment.key for segment in segments]
    if keys[0] == "variables":
        keys, segments = keys[1:], segments[1:]
    if not keys or keys[0] not in VARIABLE_SCOPES:
        raise ValueError(
            f"cannot write {path!r}: only variables can be written "
            f"(workflow.*, conversation.*, global.*, or variables.<scope>.*)"
        )
    if len(segments) < 2:
        raise ValueError(f"cannot write {path!r}: name a variable inside the scope")
    return keys[0], segments[1:]


def _scope(ctx: dict[str, Any], scope: str, create: bool) -> Any:
    variables = ctx.get("variables")
    if not isinstance(variables, dict):
        if not create:
            return MISSING
        variables = ctx["variables"] = {}
    node = variables.get(scope)
    if not isinstance(node, dict):
        if not create:
            return MISSING
        node = variables[scope] = {}
    return node


def _child(node: Any, segment: Segment, path: str) -> Any:
    """Descend one segment for a write, creating a dict where nothing (or null) is."""
    if isinstance(node, dict):
        child = node.get(segment.key)
        if child is None:
            child = node[segment.key] = {}
        return child
    if isinstance(node, list) and segment.index is not None:
        if -len(node) <= segment.index < len(node):
            if node[segment.index] is None:
                node[segment.index] = {}
            return node[segment.index]
        raise ValueError(f"cannot write {path!r}: index {segment.key} is out of range")
    raise ValueError(
        f"cannot write {path!r}: {segment.key!r} is under a {type(node).__name__}, not an object"
    )


def set_path(ctx: dict[str, Any], path: str, value: Any) -> None:
    """Store `value` at a variable path, creating intermediate objects; ValueError otherwise."""
    scope, segments = _writable(path)
    node = _scope(ctx, scope, create=True)
    for segment in segments[:-1]:
        node = _child(node, segment, path)
    last = segments[-1]
    if isinstance(node, dict):
        node[last.key] = value
    elif isinstance(node, list) and last.index is not None:
        if not -len(node) <= last.index < len(node):
            raise ValueError(f"cannot write {path!r}: index {last.key} is out of range")
        node[last.index] = value
    else:
        raise ValueError(
            f"cannot write {path!r}: {last.key!r} is under a {type(node).__name__}, not an object"
        )


def delete_path(ctx: dict[str, Any], path: str) -> None:
    """Remove the variable at `path`; absent is fine (removal is idempotent)."""
    scope, segments = _writable(path)
    parent = _walk(_scope(ctx, scope, create=False), segments[:-1])
    last = segments[-1]
    if isinstance(parent, dict):
        parent.pop(last.key, None)
    elif (
        isinstance(parent, list)
        and last.index is not None
        and -len(parent) <= last.index < len(parent)
    ):
        del parent[last.index]
