"""Power-user conditions written in CEL (`customer.orders.size() > 5`), compiled once.

CEL is safe by construction: no loops beyond its bounded macros, no I/O, linear-time regexes.
Handing Python values to CEL is the expensive part (about 1 µs per string and 4 µs per nested
object), so the source is read once at compile time for every `root.field.field` chain, and:

- a chain is replaced by a flat alias bound to the value `get_path` reads for it, so
  `trigger.text.contains("x")` converts one string, not the whole payload;
- chains inside `has(...)`, and bare roots (`size(customer)`, `customer["a b"]`), keep their
  name and are bound as the context's objects pruned to the fields the expression reaches.

A missing path leaves its alias unbound, which CEL reports as an error, exactly like selecting an
absent key: either way the condition is false.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any, Final

import cel
from cel.stdlib import EXTENSIONS

from executor.domain.expressions.variable_paths import (
    MISSING,
    VARIABLE_SCOPES,
    path_reader,
    trigger_view,
)

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD: Final = re.compile(r"\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_CALL: Final = re.compile(r"\s*\(")
_IDENTIFIER_CHARS: Final = frozenset(string.ascii_letters + string.digits + "_")
# `list.all(workflow, ...)` binds a macro variable that shadows a root: aliasing is then unsafe.
_MACRO_VARIABLE: Final = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,"
)
_ALIAS_PREFIX: Final = "__cf_"
# cel-rust recurses while parsing: tens of thousands of terms overflow the native stack and
# kill the process. Conditions written by people are far shorter than this bound.
MAX_EXPRESSION_CHARS: Final = 4000

BINDABLE: Final = (*VARIABLE_SCOPES, "trigger", "customer", "execution", "resources", "variables")
"""Names an expression can use: the short scopes plus the context's own keys."""

_STDLIB: Final[dict[str, Callable[..., Any]]] = {
    name: function for library in EXTENSIONS.values() for name, function in library.items()
}

# The fields of a root an expression reads: {"text": None}; None means the whole subtree.
FieldTree = dict[str, "FieldTree | None"]


def _mask_strings(source: str) -> str:
    """`source` with the inside of every string literal blanked, positions unchanged."""
    out = list(source)
    position, length = 0, len(source)
    while position < length:
        char = source[position]
        if char not in "\"'":
            position += 1
            continue
        start = position
        while start > 0 and source[start - 1] in "rRbB":
            start -= 1
        raw = "r" in source[start:position].lower()
        quote = char * 3 if source.startswith(char * 3, position) else char
        position += len(quote)
        body_start = position
        while position < length:
            if not raw and source[position] == "\\":
                position += 2
            elif source.startswith(quote, position):
                break
            else:
                position += 1
        for index in range(body_start, min(position, length)):
            out[index] = " "
        position += len(quote)
    return "".join(out)


def _before(code: str, index: int) -> int:
    """The index of the last non-space character before `index`, or -1."""
    index -= 1
    while index >= 0 and code[index].isspace():
        index -= 1
    return index


def _follows_dot(code: str, start: int) -> bool:
    before = _before(code, start)
    return before >= 0 and code[before] == "."


def _inside_has(code: str, start: int) -> bool:
    """Whether the identifier at `start` is the first thing inside `has(`."""
    paren = _before(code, start)
    if paren < 0 or code[paren] != "(":
        return False
    end = _before(code, paren) + 1
    return code[max(end - 3, 0) : end] == "has" and (
        end < 4 or code[end - 4] not in _IDENTIFIER_CHARS
    )


class _Chain:
    __slots__ = ("end", "in_has", "names", "start")

    def __init__(self, names: tuple[str, ...], start: int, end: int, in_has: bool) -> None:
        self.names, self.start, self.end, self.in_has = names, start, end, in_has

    @property
    def path(self) -> str:
        return ".".join(self.names)


def _chains(code: str) -> list[_Chain]:
    """Every reference to a bindable root in masked `code`, with the fields selected on it."""
    found: list[_Chain] = []
    position = 0
    while (name := _IDENTIFIER.search(code, position)) is not None:
        position = name.end()
        if name.group() not in BINDABLE or _follows_dot(code, name.start()):
            continue  # Not a root: a field of something else, or another identifier.
        names = [name.group()]
        while (field := _FIELD.match(code, position)) is not None:
            if _CALL.match(code, field.end()):
                break  # `.size(`: a method of the value, not one of its fields.
            names.append(field.group(1))
            position = field.end()
        in_has = _inside_has(code, name.start())
        found.append(_Chain(tuple(names), name.start(), position, in_has))
    return found


def _add_to_tree(trees: dict[str, FieldTree | None], names: tuple[str, ...]) -> None:
    root, fields = names[0], names[1:]
    if not fields:
        trees[root] = None
        return
    node = trees.setdefault(root, {})
    for depth, name in enumerate(fields):
        if node is None:
            return  # A shorter chain already binds this whole subtree.
        if depth == len(fields) - 1:
            node[name] = None
        else:
            child = node.setdefault(name, {})
            node = child


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
    return ctx.get(name, MISSING)


class CelCondition:
    """A compiled CEL expression evaluated as a condition: only a `true` result is true."""

    __slots__ = ("_aliases", "_functions", "_program", "_roots", "paths", "source")

    def __init__(self, source: str) -> None:
        """Compile `source`; ValueError when it is too long or not valid CEL."""
        if len(source) > MAX_EXPRESSION_CHARS:
            raise ValueError(f"longer than {MAX_EXPRESSION_CHARS} characters")
        self.source = source
        program = _compile(source)
        code = _mask_strings(source)
        chains = _chains(code)
        self.paths: tuple[str, ...] = tuple(dict.fromkeys(chain.path for chain in chains))
        shadowed = any(m.group(1) in BINDABLE for m in _MACRO_VARIABLE.finditer(code))
        aliases: dict[str, str] = {}
        trees: dict[str, FieldTree | None] = {}
        rewritten: list[str] = []
        cursor = 0
        for chain in chains:
            if shadowed or chain.in_has or len(chain.names) == 1:
                _add_to_tree(trees, chain.names)
                continue
            alias = aliases.setdefault(chain.path, f"{_ALIAS_PREFIX}{len(aliases)}")
            rewritten += [source[cursor : chain.start], alias]
            cursor = chain.end
        if aliases:
            program = _compile("".join(rewritten) + source[cursor:])
        self._program = program
        self._aliases = tuple((alias, path_reader(path)) for path, alias in aliases.items())
        self._roots = tuple(trees.items())
        used_functions = set(program.functions())
        used_names = set(program.variables())
        self._functions = {
            name: function
            for name, function in _STDLIB.items()
            if _uses(name, used_functions, used_names)
        } or None

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        """True only when the expression yields `true`; errors (no such key...) give false."""
        try:
            bound: dict[str, Any] = {}
            for alias, read in self._aliases:
                value = read(ctx)
                if value is not MISSING:
                    bound[alias] = value
            for name, tree in self._roots:
                value = _root_value(ctx, name)
                if value is not MISSING:
                    bound[name] = _prune(value, tree)
            result = self._program.execute(cel.Context(bound, self._functions))
        except Exception:
            # CEL reports a missing key, a type mismatch or a division by zero as an
            # exception; for routing they all mean "the condition does not hold".
            return False
        except BaseException as error:
            if not _is_panic(error):
                raise
            return False
        return result is True


def _is_panic(error: BaseException) -> bool:
    """A Rust panic surfaced by PyO3: a BaseException, so `except Exception` misses it."""
    return type(error).__name__ == "PanicException"


def _compile(source: str) -> cel.Program:
    try:
        return cel.compile(source)
    except BaseException as error:
        if not _is_panic(error):
            raise
        raise ValueError(f"cannot compile expression: {error}") from None


def _uses(name: str, functions: set[str], variables: set[str]) -> bool:
    """Whether a program calls the extended-library function `name` (`math.abs` needs `math`)."""
    namespace, _, function = name.rpartition(".")
    return function in functions and (not namespace or namespace in variables)
