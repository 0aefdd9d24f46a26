"""Every operator of the structured form, the type policy, null/missing, literals, regex safety."""

from __future__ import annotations

import time
from typing import Any

import pytest
from executor.domain.expressions import OPERATORS, Condition, ConditionError

CTX: dict[str, Any] = {
    "execution": {"id": "ex-1"},
    "trigger": {
        "type": "Incoming Message",
        "source": {"text": "I want a Refund for order 1001", "amount": "42.5", "zip": "007"},
    },
    "variables": {
        "workflow": {
            "count": 5,
            "price": 49.99,
            "ten": "10",
            "nine": "9",
            "word": "apple",
            "empty": "",
            "blank": "  ",
            "nothing": None,
            "zero": 0,
            "no": False,
            "yes": True,
            "yes_text": "True",
            "tags": ["vip", "new", 3],
            "none_list": [],
            "none_dict": {},
            "profile": {"tier": "gold", "age": 30},
            "date": "2025-03-01",
        },
        "conversation": {"status": "open"},
        "global": {"allowed": "gold, silver"},
    },
    "customer": {"name": "Ada", "email": "ada@example.com"},
    "resources": {},
}


def holds(left: Any, operator: str, right: Any = "") -> bool:
    condition = Condition.parse({"left": left, "operator": operator, "right": right})
    return condition.evaluate(CTX)


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        ("conversation.status", "==", "open", True),
        ("conversation.status", "==", "Open", False),  # case-sensitive
        ("conversation.status", "!=", "closed", True),
        ("workflow.count", "==", "5", True),
        ("workflow.count", "==", "5.0", True),
        ("workflow.count", "==", 5, True),
        ("workflow.count", ">", "4", True),
        ("workflow.count", ">", "5", False),
        ("workflow.count", ">=", "5", True),
        ("workflow.count", "<", "5.5", True),
        ("workflow.count", "<=", "4", False),
        ("workflow.price", "<", "50", True),
        ("workflow.ten", ">", "workflow.nine", True),  # numeric strings compare as numbers
        ("workflow.ten", ">", 9, True),
        ("workflow.ten", "==", 10, True),
        ("trigger.amount", ">=", "42.5", True),
        ("trigger.zip", "==", "007", True),  # "007" is text, not the number 7
        ("trigger.zip", "==", 7, False),
        ("workflow.word", ">", "apple", False),
        ("workflow.word", ">=", "apple", True),
        ("workflow.word", "<", "banana", True),  # text order
        ("workflow.date", "<", "2025-04-01", True),  # ISO dates order as text
        ("workflow.word", ">", 3, False),  # text vs number: not ordered
        ("workflow.word", "<", 3, False),
        ("workflow.word", "==", 3, False),
        ("workflow.word", "!=", 3, True),
        ("workflow.yes", "==", "true", True),
        ("workflow.yes", "==", True, True),
        ("workflow.yes_text", "==", "true", True),  # the text "True" means the flag
        ("workflow.no", "==", "false", True),
        ("workflow.no", "==", 0, False),  # booleans are not numbers
        ("workflow.yes", ">", 0, False),
        ("workflow.zero", "==", "false", False),
        ("workflow.nothing", "==", "null", True),
        ("workflow.tags", "==", ["vip", "new", "3"], True),  # element-wise ==
        ("workflow.profile", "==", {"tier": "gold", "age": "30"}, True),
        ("workflow.profile", "==", {"tier": "gold"}, False),
    ],
)
def test_comparisons(left: str, operator: str, right: Any, expected: bool) -> None:
    assert holds(left, operator, right) is expected


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        ("trigger.text", "contains", "Refund", True),
        ("trigger.text", "contains", "refund", False),
        ("trigger.text", "contains", "1001", True),
        ("trigger.text", "contains", 1001, True),
        ("workflow.count", "contains", "5", True),  # a number's text
        ("workflow.tags", "contains", "vip", True),
        ("workflow.tags", "contains", "3", True),  # element == right
        ("workflow.tags", "contains", "vi", False),  # elements, not substrings
        ("workflow.profile", "contains", "tier", True),  # keys
        ("workflow.profile", "contains", "gold", False),
        ("workflow.empty", "contains", "", True),
        ("trigger.text", "starts_with", "I want", True),
        ("trigger.text", "starts_with", "want", False),
        ("trigger.text", "ends_with", "1001", True),
        ("workflow.price", "starts_with", "49", True),
        ("workflow.tags", "starts_with", "vip", False),  # containers have no text form here
        ("customer.email", "matches", r"^[^@]+@example\.com$", True),
        ("trigger.text", "matches", "(?i)refund", True),
        ("trigger.text", "matches", "refund", False),
        ("trigger.text", "matches", r"order \d+", True),
        ("workflow.count", "matches", "^5$", True),
        ("workflow.profile.tier", "in", "gold,silver", True),
        ("workflow.profile.tier", "in", "silver, gold", True),  # items are trimmed
        ("workflow.profile.tier", "in", "global.allowed", True),  # a variable's text, split
        ("workflow.profile.tier", "in", ["gold", "vip"], True),
        ("workflow.profile.tier", "in", "goldsmith", False),
        ("workflow.count", "in", "1,5,9", True),
        ("workflow.count", "in", [1, 5.0], True),
        ("workflow.count", "in", "workflow.tags", False),
        ("age", "in", "workflow.profile", True),  # an object's keys: tier, age
        ("gold", "in", "workflow.profile", False),
        ("workflow.profile.tier", "not_in", "silver,bronze", True),
        ("workflow.profile.tier", "not_in", ["gold"], False),
    ],
)
def test_text_and_membership_operators(
    left: str, operator: str, right: Any, expected: bool
) -> None:
    assert holds(left, operator, right) is expected


@pytest.mark.parametrize(
    ("left", "is_empty", "exists"),
    [
        ("workflow.empty", True, True),
        ("workflow.nothing", True, True),  # null exists
        ("workflow.absent", True, False),
        ("workflow.none_list", True, True),
        ("workflow.none_dict", True, True),
        ("workflow.blank", False, True),
        ("workflow.zero", False, True),
        ("workflow.no", False, True),
        ("workflow.word", False, True),
        ("customer.name.first", True, False),
    ],
)
def test_unary_operators(left: str, is_empty: bool, exists: bool) -> None:
    assert holds(left, "is_empty") is is_empty
    assert holds(left, "exists") is exists
    assert holds(left, "not_exists") is (not exists)


def test_unary_operators_ignore_right() -> None:
    for right in ("", None, "anything", 5):
        assert holds("workflow.word", "exists", right) is True


@pytest.mark.parametrize("side", ["workflow.absent", "workflow.nothing"])
@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("==", False),
        ("!=", True),
        (">", False),
        ("<", False),
        (">=", False),
        ("<=", False),
        ("contains", False),
        ("starts_with", False),
        ("ends_with", False),
        ("matches", False),
        ("in", False),
        ("not_in", True),
    ],
)
def test_null_and_missing_never_raise(side: str, operator: str, expected: bool) -> None:
    assert holds(side, operator, "x") is expected
    assert holds("workflow.word", operator, side) is (operator in ("!=", "not_in"))
    # Both sides null or missing: only `==` (null equals null) and `not_in` hold.
    assert holds(side, operator, "workflow.other_absent") is (operator in ("==", "not_in"))


def test_null_equals_missing_and_null() -> None:
    assert holds("workflow.absent", "==", "null") is True
    assert holds("workflow.nothing", "==", None) is True
    assert holds("workflow.absent", "==", "workflow.nothing") is True
    assert holds("workflow.nothing", "!=", "null") is False
    assert holds("workflow.empty", "==", "null") is False  # "" is a value


@pytest.mark.parametrize(
    ("right", "expected"),
    [
        ("5", True),  # number literal
        ("5.0", True),
        ("'5'", True),  # quoted: the text "5", still a numeric string, so equal to 5
        ("'five'", False),
        ("true", False),
        ("john@example.com", False),  # literal: no context root
        ("3.14", False),  # literal number, not a path
        ("{{workflow.count}}", True),  # explicit variable
        ("$workflow.count", True),
        ("variables.workflow.count", True),
    ],
)
def test_literal_or_variable(right: str, expected: bool) -> None:
    assert holds("workflow.count", "==", right) is expected


def test_quotes_force_text() -> None:
    ctx = {"variables": {"workflow": {"t": "customer.name"}}, "customer": {"name": "Ada"}}
    condition = Condition.parse(
        {"left": "workflow.t", "operator": "==", "right": '"customer.name"'}
    )
    assert condition.evaluate(ctx) is True
    assert holds("trigger.zip", "==", "'007'") is True


def test_text_operators_keep_literals_as_text() -> None:
    ctx = {"variables": {"workflow": {"code": "A007-1e3"}}}
    for operator, right in [("contains", "007"), ("ends_with", "1e3"), ("contains", "A007")]:
        condition = Condition.parse({"left": "workflow.code", "operator": operator, "right": right})
        assert condition.evaluate(ctx) is True, operator


def test_a_template_operand_is_rendered_text() -> None:
    condition = Condition.parse(
        {"left": "customer.email", "operator": "==", "right": "{{customer.name}}@example.com"}
    )
    assert condition.evaluate({"customer": {"name": "ada", "email": "ada@example.com"}}) is True


def test_list_literal_operands_may_hold_placeholders() -> None:
    condition = Condition.parse(
        {"left": "workflow.x", "operator": "in", "right": ["{{workflow.a}}", "b"]}
    )
    assert condition.evaluate({"variables": {"workflow": {"x": "z", "a": "z"}}}) is True
    assert condition.paths == ("workflow.x", "workflow.a")


@pytest.mark.parametrize(
    ("spelling", "canonical_holds"),
    [("EQUALS", True), ("equals", True), ("GREATER_THAN", False), ("LESS_THAN_OR_EQUAL", True)],
)
def test_spec_enum_spellings_are_accepted(spelling: str, canonical_holds: bool) -> None:
    assert holds("workflow.count", spelling, "5") is canonical_holds


def test_operator_list_is_complete() -> None:
    assert set(OPERATORS) == {
        "==", "!=", ">", "<", ">=", "<=", "contains", "starts_with", "ends_with",
        "is_empty", "exists", "not_exists", "in", "not_in", "matches",
    }  # fmt: skip


def test_an_invalid_literal_pattern_fails_at_parse() -> None:
    with pytest.raises(ConditionError, match="right: invalid regular expression") as raised:
        Condition.parse({"left": "trigger.text", "operator": "matches", "right": "(unclosed"})
    assert raised.value.field == "right"
    with pytest.raises(ConditionError, match="invalid regular expression"):
        Condition.parse({"left": "trigger.text", "operator": "matches", "right": r"(a)\1"})


def test_an_invalid_pattern_from_a_variable_does_not_match() -> None:
    ctx = {"variables": {"workflow": {"p": "(unclosed", "t": "x"}}}
    condition = Condition.parse(
        {"left": "workflow.t", "operator": "matches", "right": "workflow.p"}
    )
    assert condition.evaluate(ctx) is False


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a)*b", "(a*)*c", "(.*a){20}"])
def test_catastrophic_patterns_finish_fast(pattern: str) -> None:
    ctx = {"variables": {"workflow": {"t": "a" * 100_000 + "!"}}}
    condition = Condition.parse({"left": "workflow.t", "operator": "matches", "right": pattern})
    started = time.perf_counter()
    condition.evaluate(ctx)
    assert time.perf_counter() - started < 0.5
