"""The SOQL the sandbox's Salesforce answers: `SELECT f, ... FROM Object [WHERE condition]
[ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`, where a condition is
comparisons (`=`, `!=`, `<`, `<=`, `>`, `>=`, `LIKE`, `IN (...)`, `NOT IN (...)`) of a field
with a literal ('text' with Salesforce's backslash escapes, numbers, true, false, null, date
and datetime literals) joined by AND, OR, NOT and parentheses. `COUNT()` counts. Anything else
is MALFORMED_QUERY, as Salesforce answers it; unknown objects INVALID_TYPE, unknown fields
INVALID_FIELD."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})|(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][\w.]*))"
)
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
KEYWORDS = {"select", "from", "where", "and", "or", "not", "order", "by", "asc", "desc",
            "limit", "offset", "like", "in", "nulls", "first", "last", "true", "false",
            "null", "count"}  # fmt: skip


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Query:
    sobject: str
    fields: list[str]  # canonical names; empty for COUNT()
    count: bool
    where: Callable[[Mapping[str, Any]], bool]
    order: list[tuple[str, bool, bool]]  # field, descending, nulls first
    limit: int | None
    offset: int


def _tokens(text: str) -> list[tuple[str, str]]:
    found, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{text[at:].split()[0]}'")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


def _unquote(literal: str) -> str:
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            if i + 1 >= len(body) or body[i + 1] not in ESCAPES:
                raise SoqlError("MALFORMED_QUERY", f"Invalid string literal {literal}")
            out.append(ESCAPES[body[i + 1]])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def parse(text: str, fields_of: Callable[[str], Mapping[str, str] | None]) -> Query:
    """``fields_of(object)``: lower-case name -> canonical name, None for an unknown object."""
    tokens, at = _tokens(text), 0

    def peek(offset: int = 0) -> tuple[str, str]:
        return tokens[at + offset] if at + offset < len(tokens) else ("end", "")

    def word(expected: str | None = None) -> str:
        nonlocal at
        kind, value = peek()
        if kind != "word" or (expected is not None and value.lower() != expected):
            shown = value or "<EOF>"
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{shown}'")
        at += 1
        return value

    def is_word(value: str) -> bool:
        kind, got = peek()
        return kind == "word" and got.lower() == value

    def punct(value: str) -> None:
        nonlocal at
        if peek() != ("op", value):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{peek()[1] or '<EOF>'}'")
        at += 1

    word("select")
    selected, count = [], False
    if is_word("count") and peek(1) == ("op", "("):
        word()
        punct("(")
        punct(")")
        count = True
    else:
        selected.append(word())
        while peek() == ("op", ","):
            at += 1
            selected.append(word())
    word("from")
    sobject_given = word()
    known = fields_of(sobject_given)
    if known is None:
        raise SoqlError(
            "INVALID_TYPE",
            f"sObject type '{sobject_given}' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name.",
        )
    sobject = str(known.get("__name__", sobject_given))

    def field(name: str) -> str:
        canonical = known.get(name.lower()) if known else None
        if canonical is None or name.lower() == "__name__":
            raise SoqlError(
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{sobject}'. If you are attempting to use "
                "a custom field, be sure to append the '__c' after the custom field name.",
            )
        return canonical

    fields = [field(name) for name in selected]

    def literal() -> Any:
        nonlocal at
        kind, value = peek()
        at += 1
        if kind == "string":
            return _unquote(value)
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind in ("date", "datetime"):
            return value
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if kind == "word" and value.lower() == "null":
            return None
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{value or '<EOF>'}'")

    def comparison() -> Callable[[Mapping[str, Any]], bool]:
        nonlocal at
        if peek() == ("op", "("):
            at += 1
            inner = disjunction()
            punct(")")
            return inner
        if is_word("not"):
            word()
            negated = comparison()
            return lambda record: not negated(record)
        name = field(word())
        negate_in = False
        if is_word("not") and peek(1)[1].lower() == "in":
            word()
            negate_in = True
        if is_word("in"):
            word()
            punct("(")
            values = [literal()]
            while peek() == ("op", ","):
                at += 1
                values.append(literal())
            punct(")")
            return lambda record: (record.get(name) in values) != negate_in
        if is_word("like"):
            word()
            pattern = literal()
            if not isinstance(pattern, str):
                raise SoqlError("MALFORMED_QUERY", "LIKE takes a string")
            regex = re.compile(
                "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern),
                re.IGNORECASE | re.DOTALL,
            )
            return lambda record: (
                isinstance(record.get(name), str) and bool(regex.fullmatch(record[name]))
            )
        kind, op = peek()
        if kind != "op" or op in ("(", ")", ","):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{op or '<EOF>'}'")
        at += 1
        value = literal()
        return lambda record: _compare(record.get(name), op, value)

    def conjunction() -> Callable[[Mapping[str, Any]], bool]:
        parts = [comparison()]
        while is_word("and"):
            word()
            parts.append(comparison())
        return lambda record: all(p(record) for p in parts)

    def disjunction() -> Callable[[Mapping[str, Any]], bool]:
        parts = [conjunction()]
        while is_word("or"):
            word()
            parts.append(conjunction())
        return lambda record: any(p(record) for p in parts)

    where: Callable[[Mapping[str, Any]], bool] = lambda record: True  # noqa: E731
    if is_word("where"):
        word()
        where = disjunction()
    order: list[tuple[str, bool, bool]] = []
    if is_word("order"):
        word()
        word("by")
        while True:
            name, descending = field(word()), False
            if is_word("asc") or is_word("desc"):
                descending = word().lower() == "desc"
            nulls_first = not descending
            if is_word("nulls"):
                word()
                nulls_first = word().lower() == "first"
            order.append((name, descending, nulls_first))
            if peek() != ("op", ","):
                break
            at += 1
    limit, offset = None, 0
    if is_word("limit"):
        word()
        value = literal()
        if not isinstance(value, int) or value < 0:
            raise SoqlError("MALFORMED_QUERY", "LIMIT takes a non-negative integer")
        limit = value
    if is_word("offset"):
        word()
        value = literal()
        if not isinstance(value, int) or not 0 <= value <= 2000:
            raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
        offset = value
    if at != len(tokens):
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{peek()[1]}'")
    return Query(sobject, fields, count, where, order, limit, offset)


def _compare(have: Any, op: str, value: Any) -> bool:
    if op == "=":
        return bool(have == value if not isinstance(have, str) or not isinstance(value, str)
                    else have.lower() == value.lower())  # fmt: skip
    if op in ("!=", "<>"):
        return not _compare(have, "=", value)
    if have is None or value is None:
        return False
    try:
        return bool({"<": have < value, "<=": have <= value, ">": have > value,
                     ">=": have >= value}[op])  # fmt: skip
    except TypeError:
        return False


def run(query: Query, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chosen = [r for r in records if query.where(r)]
    for name, descending, nulls_first in reversed(query.order):
        present = [r for r in chosen if r.get(name) is not None]
        absent = [r for r in chosen if r.get(name) is None]
        present.sort(key=lambda r: r[name], reverse=descending)
        chosen = absent + present if nulls_first else present + absent
    chosen = chosen[query.offset :]
    return chosen if query.limit is None else chosen[: query.limit]
