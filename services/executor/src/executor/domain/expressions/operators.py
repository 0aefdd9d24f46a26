"""The condition operators over resolved values, under one type policy (package docstring).

Every function here is total: any JSON value, None or MISSING on either side gives a bool.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

import re2

from executor.domain.expressions.text_form import as_number, text_of
from executor.domain.expressions.variable_paths import MISSING

BinaryOperator = Callable[[Any, Any], bool]
UnaryOperator = Callable[[Any], bool]

_RE2_OPTIONS: Final = re2.Options()
# A bad pattern is reported to the user as a ConditionError; RE2 printing it too is noise.
_RE2_OPTIONS.log_errors = False


def _absent(value: Any) -> bool:
    return value is None or value is MISSING


def _is_text_like(value: Any) -> bool:
    """Scalars that have a text form for the text operators (containers and null do not)."""
    return isinstance(value, str | int | float)  # bool is an int


def values_equal(left: Any, right: Any) -> bool:
    """`==`: numbers (and numeric strings) by value, text exactly, null equals missing."""
    if type(left) is str and type(right) is str and left == right:
        return True  # The common case, without the numeric parse below.
    if _absent(left) or _absent(right):
        return _absent(left) and _absent(right)
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, bool) and isinstance(right, bool):
            return left is right
        flag, other = (left, right) if isinstance(left, bool) else (right, left)
        # Form posts and webhooks send booleans as text; "True"/"false " still mean the flag.
        return isinstance(other, str) and other.strip().lower() == ("true" if flag else "false")
    left_number, right_number = as_number(left), as_number(right)
    if left_number is not None and right_number is not None:
        return left_number == right_number
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(values_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            values_equal(item, right[key]) for key, item in left.items()
        )
    return False


def _ordered_pair(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Both sides as numbers, else both as text, else None (not comparable: false)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    left_number, right_number = as_number(left), as_number(right)
    if left_number is not None and right_number is not None:
        return left_number, right_number
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    return None


def greater(left: Any, right: Any) -> bool:
    """`>`: numeric when both sides are numbers, text order when both are text, else false."""
    pair = _ordered_pair(left, right)
    return pair is not None and pair[0] > pair[1]


def less(left: Any, right: Any) -> bool:
    """`<`: as `>` with the sides swapped."""
    pair = _ordered_pair(left, right)
    return pair is not None and pair[0] < pair[1]


def greater_or_equal(left: Any, right: Any) -> bool:
    """`>=`: as `>`; never true for null, missing or mixed kinds."""
    pair = _ordered_pair(left, right)
    return pair is not None and pair[0] >= pair[1]


def less_or_equal(left: Any, right: Any) -> bool:
    """`<=`: as `<`; never true for null, missing or mixed kinds."""
    pair = _ordered_pair(left, right)
    return pair is not None and pair[0] <= pair[1]


def not_equal(left: Any, right: Any) -> bool:
    """`!=`: exactly the negation of `==`."""
    return not values_equal(left, right)


def contains(left: Any, right: Any) -> bool:
    """List: has an element `==` right. Object: has the key. Text: has right's text in it."""
    if _absent(left) or _absent(right):
        return False
    if isinstance(left, list | tuple):
        return any(values_equal(item, right) for item in left)
    if isinstance(left, dict):
        return _is_text_like(right) and text_of(right) in left
    if _is_text_like(left) and _is_text_like(right):
        return text_of(right) in text_of(left)
    return False


def starts_with(left: Any, right: Any) -> bool:
    """Left's text begins with right's text; false for null, missing and containers."""
    return _is_text_like(left) and _is_text_like(right) and text_of(left).startswith(text_of(right))


def ends_with(left: Any, right: Any) -> bool:
    """Left's text ends with right's text; false for null, missing and containers."""
    return _is_text_like(left) and _is_text_like(right) and text_of(left).endswith(text_of(right))


def candidates(right: Any) -> list[Any] | tuple[Any, ...]:
    """The members an `in` right side offers: a list, a comma-separated text, an object's keys."""
    if _absent(right):
        return ()
    if isinstance(right, list | tuple):
        return right
    if isinstance(right, str):
        return [item.strip() for item in right.split(",")]
    if isinstance(right, dict):
        return list(right)
    return (right,)


def is_in(left: Any, right: Any) -> bool:
    """`in`: left `==` one of the candidates of the right side."""
    return any(values_equal(left, item) for item in candidates(right))


def is_not_in(left: Any, right: Any) -> bool:
    """`not_in`: exactly the negation of `in`."""
    return not is_in(left, right)


Matcher = Callable[[str], bool]


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Matcher:
    """A search function for an RE2 `pattern` (linear time: no input can make it hang).

    Raises re2.error for an invalid pattern.
    """
    re2.compile(pattern, _RE2_OPTIONS)  # Reports syntax errors with RE2's own message.
    # A one-pattern RE2 set answers "is there a match" without building match objects,
    # several times faster than Pattern.search through the wrapper.
    program = re2.Set.SearchSet(_RE2_OPTIONS)
    program.Add(pattern)
    program.Compile()

    def search(text: str) -> bool:
        return program.Match(text) is not None

    return search


def pattern_error(pattern: str) -> str | None:
    """Why `pattern` is not a valid RE2 expression, or None when it is."""
    try:
        compile_pattern(pattern)
    except re2.error as error:
        detail = error.args[0] if error.args else error
        return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    return None


def matches(left: Any, right: Any) -> bool:
    """Left's text contains a match of the RE2 pattern on the right (search, not full match)."""
    if not _is_text_like(left) or not _is_text_like(right):
        return False
    try:
        search = compile_pattern(text_of(right))
    except re2.error:
        return False  # A pattern from a variable can be anything; invalid means no match.
    return search(text_of(left))


def is_empty(value: Any) -> bool:
    """Null, missing, "", [] and {} are empty; 0, false and "  " are values."""
    if _absent(value):
        return True
    if isinstance(value, str | list | tuple | dict):
        return len(value) == 0
    return False


def exists(value: Any) -> bool:
    """The path is present, even if its value is null."""
    return value is not MISSING


def not_exists(value: Any) -> bool:
    """The path is absent (a null value exists)."""
    return value is MISSING


BINARY: Final[dict[str, BinaryOperator]] = {
    "==": values_equal,
    "!=": not_equal,
    ">": greater,
    "<": less,
    ">=": greater_or_equal,
    "<=": less_or_equal,
    "contains": contains,
    "starts_with": starts_with,
    "ends_with": ends_with,
    "in": is_in,
    "not_in": is_not_in,
    "matches": matches,
}

UNARY: Final[dict[str, UnaryOperator]] = {
    "is_empty": is_empty,
    "exists": exists,
    "not_exists": not_exists,
}

OPERATORS: Final = (*BINARY, *UNARY)
"""Every canonical operator name, in the order the builder lists them."""

# Operators whose literal operands stay text: "007" must not become the number 7.
TEXT_OPERATORS: Final = frozenset(
    {"contains", "starts_with", "ends_with", "in", "not_in", "matches"}
)

# The spec's enum spellings and common words, so builder JSON saved either way parses.
ALIASES: Final = {
    "=": "==",
    "eq": "==",
    "equals": "==",
    "ne": "!=",
    "not_equals": "!=",
    "gt": ">",
    "greater_than": ">",
    "lt": "<",
    "less_than": "<",
    "gte": ">=",
    "greater_than_or_equal": ">=",
    "lte": "<=",
    "less_than_or_equal": "<=",
    "is_not_in": "not_in",
    "regex": "matches",
}


def canonical_operator(name: str) -> str | None:
    """The canonical name of an operator spelled any accepted way, or None when unknown."""
    key = name.strip().lower().replace(" ", "_")
    if key in BINARY or key in UNARY:
        return key
    return ALIASES.get(key)
