"""What no input may carry, wherever it is (path, query, headers, JSON body strings and keys,
form fields): NUL characters and text that is not Unicode (FerretDB's PostgreSQL storage
refuses both: a NUL that got through answered 500), integers beyond 64 bits (BSON has none),
NaN and Infinity (JSON has none, so a stored one could never be answered) and JSON nested
deeper than ``MAX_DEPTH`` (MongoDB refuses documents nested over 100 levels; stored workflows
wrap the body in a few levels of their own).

Pure checks: each raises Refused naming where the input is wrong, as the problem's ``errors[]``
does (``body.payload.text``, ``query.cursor``, ``header.x-api-key``, ``path``)."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import unquote_to_bytes

MAX_DEPTH = 64
_INT64 = (-(2**63), 2**63 - 1)


class Refused(ValueError):
    """Input no route may see: ``name`` says where, ``reason`` what is wrong."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def check_text(name: str, text: str) -> None:
    """No NUL character, no lone surrogate (what a JSON ``\\ud800`` escape decodes to)."""
    if "\x00" in text:
        raise Refused(name, "contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Refused(name, "is not valid Unicode (a lone surrogate)") from None


def decoded(name: str, raw: bytes) -> str:
    """``raw`` as UTF-8 text, checked."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(name, "is not valid UTF-8") from None
    check_text(name, text)
    return text


def check_path(raw_path: bytes) -> None:
    """The path as sent (percent-encoded): servers decode it with replacement characters, so
    invalid UTF-8 is seen only here."""
    decoded("path", unquote_to_bytes(raw_path.split(b"?", 1)[0]))


def check_query(query_string: bytes) -> None:
    """Every name and value of the query string, percent-decoded as the routes read them."""
    for pair in query_string.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" "))
        where = "query." + name.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
        decoded(where, name)
        decoded(where, unquote_to_bytes(raw_value.replace(b"+", b" ")))


_SHAPES = bytes.maketrans(b"123456789E-", b"000000000e+")
_SUSPECT_SHAPES = (b"0" * 19, b"e000", b"e+000")
"""Once every digit is 0, a long integer or a 3-digit exponent (1e400: beyond a 64-bit
float) shows as one of these."""
_SUSPECT_TEXT = (b"\\u", b"\x00", b"NaN", b"Infinity")
"""An escape (of a NUL or a lone surrogate), a NUL, the two non-numbers."""


def check_json_input(raw: bytes) -> None:
    """``check_json_body`` where it can refuse something, else only the UTF-8 check: a JSON
    text that shows nothing suspect and nests less deep than ``MAX_DEPTH`` has no string, key
    or number to refuse, so the walk would find nothing (the route's parser still refuses a
    text that is not JSON). Byte searches only, no parse: this runs for every trigger."""
    shapes = raw.translate(_SHAPES)
    if (
        not any(s in raw for s in _SUSPECT_TEXT)
        and not any(s in shapes for s in _SUSPECT_SHAPES)
        and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH
    ):
        decoded("body", raw.removeprefix(b"\xef\xbb\xbf"))
        return
    check_json_body(raw)


def check_json_body(raw: bytes) -> Any:
    """The body parsed as JSON (UTF-8, an optional byte order mark), every string and key
    checked; Refused naming the first bad one, or saying why it is not JSON."""
    text = decoded("body", raw.removeprefix(b"\xef\xbb\xbf"))
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except Refused:
        raise
    except RecursionError:
        raise Refused("body", f"is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise Refused("body", f"is not valid JSON: {exc}") from None
    _check_value("body", value, 0)
    return value


def _no_constant(constant: str) -> Any:
    raise Refused("body", f"holds {constant}, which is not a JSON number")


def _check_value(name: str, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Refused(name, f"is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(name, value)
    elif isinstance(value, float):
        if not math.isfinite(value):  # 1e400 parses as Infinity
            raise Refused(name, "is a number beyond a 64-bit float")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            raise Refused(name, "is an integer beyond 64 bits")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(f"{name}.{_printable(key)}", key)
            _check_value(f"{name}.{key}", item, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(f"{name}[{index}]", item, depth + 1)


def _printable(key: str) -> str:
    """A key as it can be shown in a name: NULs and lone surrogates escaped."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


MAX_FORM_FIELDS = 1000


def form_fields(raw: bytes) -> list[tuple[str, str]]:
    """An `application/x-www-form-urlencoded` body as (name, value) pairs in order, blank
    values kept (a provider's signature covers them); Refused naming the first name or value
    that is not UTF-8 or holds a NUL, or a body of more than ``MAX_FORM_FIELDS`` fields."""
    text = decoded("body", raw)
    pairs = []
    for index, part in enumerate(p for p in text.split("&") if p):
        if index >= MAX_FORM_FIELDS:
            raise Refused("body", f"has more than {MAX_FORM_FIELDS} fields")
        raw_name, _, raw_value = part.partition("=")
        name_bytes = unquote_to_bytes(raw_name.replace("+", " "))
        where = "body." + name_bytes.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
        pairs.append(
            (
                decoded(where, name_bytes),
                decoded(where, unquote_to_bytes(raw_value.replace("+", " "))),
            )
        )
    return pairs
