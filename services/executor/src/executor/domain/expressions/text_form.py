"""How a value reads as text inside a string, and when a value counts as a number.

Shared by templates (interpolation) and conditions (string operators, numeric comparison), so a
value prints and compares the same way everywhere.
"""

from __future__ import annotations

import json
import marshal
import math
import re
from typing import Any, Final

from executor.domain.expressions.variable_paths import MISSING

# Strict JSON-like number grammar: no "nan", "inf", "1_000", "0x1f" or surrounding text, so a
# word never turns into a number by accident.
_NUMBER: Final = re.compile(r"[ \t\n\r]*-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?[ \t\n\r]*")
# A numeric string starts with one of these; checking it first keeps words off the regex.
_NUMBER_START: Final = frozenset("-0123456789 \t\n\r")
# Python refuses to parse longer integers (int_max_str_digits); such strings stay text.
_MAX_NUMBER_CHARS: Final = 4000
# Integral floats up to this magnitude print without ".0", the way JavaScript prints them.
_PLAIN_FLOAT_LIMIT: Final = 1e16


def as_number(value: Any) -> int | float | None:
    """`value` as a number when it is one (bool excluded) or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and value[:1] in _NUMBER_START and len(value) <= _MAX_NUMBER_CHARS:
        match = _NUMBER.fullmatch(value)
        if match is None:
            return None
        if match.group(1) is None and match.group(2) is None:
            return int(value)
        return float(value)
    return None


def number_text(number: int | float) -> str:
    """A number as text: integers as digits, integral floats without ".0", others shortest."""
    if isinstance(number, float):
        if not math.isfinite(number):
            return json.dumps(number)
        if number.is_integer() and abs(number) < _PLAIN_FLOAT_LIMIT:
            return str(int(number))
        return repr(number)
    return str(number)


def text_of(value: Any) -> str:
    """The text a value interpolates as: null and missing "", true/false, compact JSON."""
    if isinstance(value, str):
        return value
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, dict | list | tuple):
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            # Non-string keys that cannot be sorted or circular data: still never raise.
            return str(value)
    return str(value)


_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def tree_copy(value: Any) -> Any:
    """A copy of a JSON-shaped value made of fresh dicts and lists (tuples become lists)."""
    kind = type(value)
    if kind is dict or isinstance(value, dict):
        return {
            key: item if type(item) in _SCALARS else tree_copy(item) for key, item in value.items()
        }
    if kind is list or isinstance(value, list | tuple):
        return [item if type(item) in _SCALARS else tree_copy(item) for item in value]
    return value


def json_copy(value: Any) -> Any:
    """A copy of a JSON-shaped value sharing no dict or list with the original (fast path)."""
    if type(value) in _SCALARS:
        return value
    try:
        # marshal copies plain JSON data about twice as fast as a Python-level walk.
        return marshal.loads(marshal.dumps(value))
    except (ValueError, TypeError):
        return tree_copy(value)  # A subclass or an odd leaf: copy what is a container.
