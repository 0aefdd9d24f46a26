"""Conditions: the builder's structured form (left, operator, right, AND/OR chain), groups, NOT,
and CEL expression strings; parsed once per workflow version, evaluated per node run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from executor.domain.expressions.cel_conditions import CelCondition
from executor.domain.expressions.compile_cache import CompileCache
from executor.domain.expressions.operators import (
    BINARY,
    OPERATORS,
    TEXT_OPERATORS,
    UNARY,
    candidates,
    canonical_operator,
    pattern_error,
)
from executor.domain.expressions.templates import Template, whole_placeholder
from executor.domain.expressions.text_form import as_number, json_copy, text_of
from executor.domain.expressions.variable_paths import (
    CONTEXT_ROOTS,
    is_valid_path,
    parse_path,
    path_reader,
)

# Groups nest; the bound keeps a hostile or corrupted definition from exhausting the stack.
MAX_DEPTH: Final = 32
_GROUP_KEYS: Final = ("all", "any", "not", "expression")
_LITERAL_WORDS: Final = {"true": True, "false": False, "null": None}


class ConditionError(ValueError):
    """A condition that cannot be parsed; `field` locates the fault (`next.operator`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class _Term:
    __slots__ = ()

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        raise NotImplementedError


Resolver = Callable[[dict[str, Any]], Any]


class _Operand:
    """A side of a comparison: a literal fixed at parse time, or a reader of the context."""

    __slots__ = ("is_literal", "literal", "paths", "read")

    def __init__(
        self, literal: Any = None, read: Resolver | None = None, paths: tuple[str, ...] = ()
    ) -> None:
        self.literal = literal
        self.read = read
        self.is_literal = read is None
        self.paths = paths


def _is_path_reference(text: str) -> bool:
    """A dotted or indexed path whose first segment is a context root (`customer.name`)."""
    if not is_valid_path(text) or text.strip().startswith("$"):
        return False
    segments = parse_path(text)
    return len(segments) > 1 and segments[0].key in CONTEXT_ROOTS


def _literal(text: str, as_text: bool) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]  # Quotes force text: '"5000"' is the string 5000.
    if as_text:
        return text
    if text.strip().lower() in _LITERAL_WORDS:
        return _LITERAL_WORDS[text.strip().lower()]
    number = as_number(text)
    return text if number is None else number


def _operand(raw: Any, as_text: bool, field: str) -> _Operand:
    if not isinstance(raw, str):
        template = Template.compile(raw)
        if template.is_static:
            return _Operand(literal=json_copy(raw))  # Later edits of the config do not leak in.
        # A list or object with placeholders (`in` against ["{{workflow.a}}", "b"]).
        return _Operand(read=lambda ctx: template.render(ctx).value, paths=template.placeholders)
    whole = whole_placeholder(raw)
    if whole is not None:
        # Read directly, not rendered: a missing path must stay MISSING for `exists`.
        return _Operand(read=path_reader(whole), paths=(whole,))
    template = Template.compile(raw)
    if not template.is_static:
        return _Operand(read=lambda ctx: template.render(ctx).value, paths=template.placeholders)
    stripped = raw.strip()
    if stripped.startswith("$"):
        if not is_valid_path(stripped):
            raise ConditionError(field, f"{raw!r} is not a valid variable path")
        path = stripped[1:]
        return _Operand(read=path_reader(path), paths=(path,))
    if _is_path_reference(raw):
        return _Operand(read=path_reader(stripped), paths=(stripped,))
    return _Operand(literal=_literal(raw, as_text))


class _Comparison(_Term):
    __slots__ = ("left", "operator", "right")

    def __init__(self, left: _Operand, operator: Callable[[Any, Any], bool], right: _Operand):
        self.left, self.operator, self.right = left, operator, right

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        left = self.left.literal if self.left.read is None else self.left.read(ctx)
        right = self.right.literal if self.right.read is None else self.right.read(ctx)
        return self.operator(left, right)


class _Test(_Term):
    """A unary operator (is_empty, exists, not_exists): the right side is ignored."""

    __slots__ = ("left", "operator")

    def __init__(self, left: _Operand, operator: Callable[[Any], bool]) -> None:
        self.left, self.operator = left, operator

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        return self.operator(self.left.literal if self.left.read is None else self.left.read(ctx))


class _All(_Term):
    __slots__ = ("terms",)

    def __init__(self, terms: tuple[_Term, ...]) -> None:
        self.terms = terms

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        return all(term.evaluate(ctx) for term in self.terms)


class _Any(_Term):
    __slots__ = ("terms",)

    def __init__(self, terms: tuple[_Term, ...]) -> None:
        self.terms = terms

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        return any(term.evaluate(ctx) for term in self.terms)


class _Not(_Term):
    __slots__ = ("term",)

    def __init__(self, term: _Term) -> None:
        self.term = term

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        return not self.term.evaluate(ctx)


class _Expression(_Term):
    __slots__ = ("cel",)

    def __init__(self, cel_condition: CelCondition) -> None:
        self.cel = cel_condition

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        return self.cel.evaluate(ctx)


class _Parser:
    """Turns raw JSON into terms, collecting every path read on the way."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def expression(self, source: Any, field: str) -> _Term:
        if not isinstance(source, str) or not source.strip():
            raise ConditionError(field, "an expression must be a non-empty string")
        try:
            compiled = CelCondition(source)
        except ValueError as error:
            raise ConditionError(field, f"invalid expression: {error}") from None
        self.paths.extend(compiled.paths)
        return _Expression(compiled)

    def chain(self, raw: Any, field: str, depth: int) -> _Term:
        """A term and its `logicalOp`/`next` followers; AND binds tighter than OR."""
        if depth > MAX_DEPTH:
            raise ConditionError(field, f"conditions nest deeper than {MAX_DEPTH} levels")
        runs: list[list[_Term]] = [[]]
        node, where = raw, field
        while True:
            runs[-1].append(self.term(node, where, depth))
            if not isinstance(node, dict) or node.get("next") is None:
                break
            joiner = node.get("logicalOp")
            if not isinstance(joiner, str) or joiner.strip().upper() not in ("AND", "OR"):
                raise ConditionError(
                    _join(where, "logicalOp"),
                    f"must be AND or OR when 'next' is given, not {joiner!r}",
                )
            if joiner.strip().upper() == "OR":
                runs.append([])
            node, where = node["next"], _join(where, "next")
        alternatives = [run[0] if len(run) == 1 else _All(tuple(run)) for run in runs]
        return alternatives[0] if len(alternatives) == 1 else _Any(tuple(alternatives))

    def term(self, raw: Any, field: str, depth: int) -> _Term:
        """One comparison or group, without its chain, with `negate` applied."""
        if isinstance(raw, str):
            return self.expression(raw, field)
        if not isinstance(raw, dict):
            raise ConditionError(field, f"a condition must be an object or a string, not {raw!r}")
        groups = [key for key in _GROUP_KEYS if key in raw]
        if len(groups) > 1 or (groups and "operator" in raw):
            found = ", ".join(groups + (["operator"] if "operator" in raw else []))
            raise ConditionError(
                field, f"give one of all, any, not, expression or operator, not {found}"
            )
        term = self.group(raw, groups[0], field, depth) if groups else self.comparison(raw, field)
        negate = raw.get("negate", False)
        if not isinstance(negate, bool):
            raise ConditionError(_join(field, "negate"), f"must be true or false, not {negate!r}")
        return _Not(term) if negate else term

    def group(self, raw: dict[str, Any], key: str, field: str, depth: int) -> _Term:
        where = _join(field, key)
        body = raw[key]
        if key == "expression":
            return self.expression(body, where)
        if key == "not":
            return _Not(self.chain(body, where, depth + 1))
        if not isinstance(body, list) or not body:
            raise ConditionError(where, "must be a non-empty list of conditions")
        terms = tuple(self.chain(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(body))
        return _All(terms) if key == "all" else _Any(terms)

    def comparison(self, raw: dict[str, Any], field: str) -> _Term:
        name = raw.get("operator")
        operator = canonical_operator(name) if isinstance(name, str) else None
        if operator is None:
            raise ConditionError(
                _join(field, "operator"),
                f"unknown operator {name!r}; expected one of {', '.join(OPERATORS)}",
            )
        if "left" not in raw:
            raise ConditionError(_join(field, "left"), f"operator {operator} needs a left side")
        as_text = operator in TEXT_OPERATORS
        left = self.operand(raw["left"], as_text, _join(field, "left"))
        if operator in UNARY:
            return _Test(left, UNARY[operator])
        if "right" not in raw:
            raise ConditionError(_join(field, "right"), f"operator {operator} needs a right side")
        right = self.operand(raw["right"], as_text, _join(field, "right"))
        if operator in ("in", "not_in") and right.is_literal:
            # Split "a, b, c" once here instead of on every evaluation.
            right = _Operand(literal=candidates(right.literal))
        if operator == "matches" and right.is_literal and right.literal is not None:
            error = pattern_error(text_of(right.literal))
            if error is not None:
                raise ConditionError(_join(field, "right"), f"invalid regular expression: {error}")
        return _Comparison(left, BINARY[operator], right)

    def operand(self, raw: Any, as_text: bool, field: str) -> _Operand:
        operand = _operand(raw, as_text, field)
        self.paths.extend(operand.paths)
        return operand


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


class Condition:
    """A parsed condition; build with `Condition.parse`, equal inputs share one parse."""

    __slots__ = ("_root", "paths", "source")

    def __init__(self, root: _Term, paths: tuple[str, ...], source: Any) -> None:
        self._root = root
        self.paths = paths
        """Every variable path the condition reads, in order, without repeats."""
        self.source = source

    @staticmethod
    def parse(raw: dict[str, Any] | str) -> Condition:
        """Parse the structured form (a dict) or a CEL expression (a str); ConditionError."""
        return _CONDITIONS.get(raw)

    def evaluate(self, ctx: dict[str, Any]) -> bool:
        """Whether the condition holds in `ctx`; null and missing values never raise."""
        return self._root.evaluate(ctx)

    def __repr__(self) -> str:
        return f"Condition({self.source!r})" if self.source else f"Condition(paths={self.paths!r})"


def _parse(raw: Any) -> Condition:
    parser = _Parser()
    root = parser.chain(raw, "", 0)
    # Only expression text is kept for display: a structured source could be edited later.
    return Condition(
        root, tuple(dict.fromkeys(parser.paths)), raw if isinstance(raw, str) else None
    )


_CONDITIONS: Final[CompileCache[Condition]] = CompileCache(_parse)
