"""Power-user conditions written in CEL (`customer.orders.size() > 5`), compiled once.

CEL is safe by construction: no loops beyond its bounded macros, no I/O, linear-time regexes.
Converting Python values into CEL costs about a microsecond per string, so an evaluation binds
only the parts of the context the expression can reach: the source is scanned once for each
`root.field.field` chain, and only those subtrees are handed to CEL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import cel
from cel.stdlib import EXTENSIONS

from executor.domain.expressions.paths import VARIABLE_SCOPES, trigger_view

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD: Final = re.compile(r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_CALL: Final = re.compile(r"\s*\(")

BINDABLE: Final = (*VARIABLE_SCOPES, "trigger", "customer", "execution", "resources", "variables")
"""Names an expression can use: the short scopes plus the context's own keys."""

_STDLIB: Final[dict[str, Callable[..., Any]]] = {
    name: function for library in EXTENSIONS.values() for name, function in library.items()
}

# A tree of the fields an expression reads: {"trigger": {"text": None}}; None = whole subtree.
FieldTree = dict[str, "FieldTree | None"]


def _code_only(source: str) -> str:
    """`source` with every string literal emptied, so names inside quotes are not references."""
    out: list[str] = []
    position, length = 0, len(source)
    while position < length:
        char = source[position]
        if char not in "\"'":
            out.append(char)
            position += 1
            continue
        start = position
        while start > 0 and source[start - 1] in "rRbB":
            start -= 1
        raw = "r" in source[start:position].lower()
        quote = char * 3 if source.startswith(char * 3, position) else char
        position += len(quote)
        while position < length:
            if not raw and source[position] == "\\":
                position += 2
            elif source.startswith(quote, position):
                position += len(quote)
                break
            else:
                position += 1
        out.append('""')
    return "".join(out)


def field_chains(source: str) -> list[tuple[str, ...]]:
    """Every `root.field...` chain in `source` (method names and indexing end a chain)."""
    code = _code_only(source)
    chains: list[tuple[str, ...]] = []
    for name in _IDENTIFIER.finditer(code):
        if name.group() not in BINDABLE:
            continue
        chain = [name.group()]
        position = name.end()
        while (field := _FIELD.match(code, position)) is not None:
            if _CALL.match(code, field.end()):
                break  # `.size(`: a method of the value, not one of its fields.
            chain.append(field.group(1))
            position = field.end()
        chains.append(tuple(chain))
    return chains


def _field_tree(chains: list[tuple[str, ...]]) -> FieldTree:
    tree: FieldTree = {}
    for chain in chains:
        node: FieldTree | None = tree
        for depth, name in enumerate(chain):
            assert node is not None
            last = depth == len(chain) - 1
            if name in node and node[name] is None:
                break  # An earlier chain already binds this whole subtree.
            if last:
                node[name] = None
            else:
                node = node.setdefault(name, {})
    return tree


def _prune(value: Any, tree: FieldTree | None) -> Any:
    if tree is None or not isinstance(value, dict):
        return value
    return {name: _prune(value[name], sub) for name, sub in tree.items() if name in value}


def _root_value(ctx: dict[str, Any], name: str) -> Any:
    if name in VARIABLE_SCOPES:
        variables = ctx.get("variables")
        scope = variables.get(name) if isinstance(variables, dict) else None
        return scope if isinstance(scope, dict) else {}
    if name == "trigger":
        return trigger_view(ctx)
    return ctx.get(name)


class CelCondition:
    """A compiled CEL expression evaluated as a condition: only a `true` result is true."""

    __slots__ = ("_functions", "_program", "_roots", "paths", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._program = cel.compile(source)  # ValueError on a syntax error.
        chains = field_chains(source)
        tree = _field_tree(chains)
        self._roots = tuple(tree.items())
        self.paths: tuple[str, ...] = tuple(dict.fromkeys(".".join(chain) for chain in chains))
        used = set(self._program.functions())
        self._functions = {
            name: function for name, function in _STDLIB.items() if name.rsplit(".", 1)[-1] in used
        }

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        """True only when the expression yields `true`; errors (no such key...) give false."""
        try:
            bound = {
                name: _prune(_root_value(ctx, name), sub)
                for name, sub in self._roots
                if name in VARIABLE_SCOPES or name == "trigger" or name in ctx
            }
            result = self._program.execute(cel.Context(bound, self._functions or None))
        except Exception:
            # CEL reports a missing key, a type mismatch or a division by zero as an
            # exception; for routing they all mean "the condition does not hold".
            return False
        return result is True
