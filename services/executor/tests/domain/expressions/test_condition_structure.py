"""AND/OR chains and their precedence, groups, NOT, parse errors, paths and the parse cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from executor.domain.expressions import Condition, ConditionError

# The project's own copies of the shared example workflows (the golden fixtures).
EXAMPLES = Path(__file__).resolve().parents[2] / "golden"


def flag(name: str) -> dict[str, Any]:
    """A comparison that holds when workflow.<name> is true."""
    return {"left": f"workflow.{name}", "operator": "==", "right": "true"}


def chain(*items: str | dict[str, Any]) -> dict[str, Any]:
    """chain(a, "AND", b, "OR", c) -> the builder's nested logicalOp/next form."""
    head: dict[str, Any] = dict(items[-1])  # type: ignore[arg-type]
    for position in range(len(items) - 3, -1, -2):
        head = {**items[position], "logicalOp": items[position + 1], "next": head}  # type: ignore[dict-item]
    return head


def ctx_of(**flags: bool) -> dict[str, Any]:
    return {"variables": {"workflow": flags}}


@pytest.mark.parametrize("a", [True, False])
@pytest.mark.parametrize("b", [True, False])
@pytest.mark.parametrize("c", [True, False])
def test_and_binds_tighter_than_or(a: bool, b: bool, c: bool) -> None:
    ctx = ctx_of(a=a, b=b, c=c)
    a_and_b_or_c = Condition.parse(chain(flag("a"), "AND", flag("b"), "OR", flag("c")))
    a_or_b_and_c = Condition.parse(chain(flag("a"), "OR", flag("b"), "AND", flag("c")))
    assert a_and_b_or_c.evaluate(ctx) is ((a and b) or c)
    assert a_or_b_and_c.evaluate(ctx) is (a or (b and c))


def test_precedence_differs_from_the_specs_right_nesting() -> None:
    # The spec's recursion reads `a AND b OR c` as a AND (b OR c): false here; ours is true.
    ctx = ctx_of(a=False, b=True, c=True)
    assert Condition.parse(chain(flag("a"), "AND", flag("b"), "OR", flag("c"))).evaluate(ctx)


def test_long_chains_mix_and_or() -> None:
    raw = chain(flag("a"), "and", flag("b"), "Or", flag("c"), "AND", flag("d"), "OR", flag("e"))
    for bits in range(32):
        values = {name: bool(bits >> i & 1) for i, name in enumerate("abcde")}
        expected = (values["a"] and values["b"]) or (values["c"] and values["d"]) or values["e"]
        assert Condition.parse(raw).evaluate(ctx_of(**values)) is expected


def test_a_thousand_long_chain_parses_without_recursion() -> None:
    raw = chain(*[item for i in range(1000) for item in (flag(f"f{i}"), "AND")][:-1])
    condition = Condition.parse(raw)
    assert condition.evaluate(ctx_of(**{f"f{i}": True for i in range(1000)})) is True
    assert condition.evaluate(ctx_of(**{f"f{i}": i != 999 for i in range(1000)})) is False


def test_groups_all_any_not() -> None:
    raw = {"all": [flag("a"), {"any": [flag("b"), {"not": flag("c")}]}]}
    condition = Condition.parse(raw)
    assert condition.evaluate(ctx_of(a=True, b=False, c=False)) is True
    assert condition.evaluate(ctx_of(a=True, b=False, c=True)) is False
    assert condition.evaluate(ctx_of(a=False, b=True, c=False)) is False


def test_group_members_may_be_chains_and_groups_may_chain() -> None:
    raw = chain({"any": [chain(flag("a"), "AND", flag("b")), flag("c")]}, "AND", flag("d"))
    condition = Condition.parse(raw)
    assert condition.evaluate(ctx_of(a=True, b=True, c=False, d=True)) is True
    assert condition.evaluate(ctx_of(a=True, b=False, c=False, d=True)) is False
    assert condition.evaluate(ctx_of(a=False, b=False, c=True, d=False)) is False


def test_negate_applies_to_its_own_term_before_chaining() -> None:
    raw = chain({**flag("a"), "negate": True}, "OR", flag("b"))
    condition = Condition.parse(raw)
    assert condition.evaluate(ctx_of(a=False, b=False)) is True
    assert condition.evaluate(ctx_of(a=True, b=False)) is False
    assert condition.evaluate(ctx_of(a=True, b=True)) is True
    grouped = Condition.parse({"all": [flag("a"), flag("b")], "negate": True})
    assert grouped.evaluate(ctx_of(a=True, b=True)) is False


def test_expression_terms_mix_with_structured_ones() -> None:
    raw = {"all": [flag("a"), {"expression": "workflow.n > 2"}, "workflow.n < 5"]}
    condition = Condition.parse(raw)
    assert condition.evaluate({"variables": {"workflow": {"a": True, "n": 3}}}) is True
    assert condition.evaluate({"variables": {"workflow": {"a": True, "n": 9}}}) is False


def test_a_trailing_logical_op_without_next_is_ignored() -> None:
    condition = Condition.parse({**flag("a"), "logicalOp": "AND", "next": None})
    assert condition.evaluate(ctx_of(a=True)) is True


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"left": "a.b", "operator": "equalz", "right": "1"}, "operator", "unknown operator"),
        ({"left": "a.b", "right": "1"}, "operator", "unknown operator None"),
        ({"operator": "==", "right": "1"}, "left", "needs a left side"),
        ({"left": "a.b", "operator": "=="}, "right", "needs a right side"),
        ({**flag("a"), "next": flag("b")}, "logicalOp", "must be AND or OR"),
        ({**flag("a"), "logicalOp": "XOR", "next": flag("b")}, "logicalOp", "not 'XOR'"),
        (
            chain(flag("a"), "AND", {"left": "x.y", "operator": "~", "right": 1}),
            "next.operator",
            "'~'",
        ),
        ({"all": []}, "all", "non-empty list"),
        ({"any": "x"}, "any", "non-empty list"),
        ({"all": [flag("a"), {"left": "a.b"}]}, "all[1].operator", "unknown operator"),
        ({"not": {"any": [{"oops": 1}]}}, "not.any[0].operator", "unknown operator"),
        ({"all": [flag("a")], "any": [flag("a")]}, "", "not all, any"),
        ({"all": [flag("a")], "operator": "=="}, "", "not all, operator"),
        ({**flag("a"), "negate": "yes"}, "negate", "true or false"),
        ({"expression": ""}, "expression", "non-empty string"),
        ({"expression": "a +"}, "expression", "invalid expression"),
        ("a +", "", "invalid expression"),
        (42, "", "must be an object or a string"),
        ({"left": "a.b", "operator": "==", "right": "$bad..path"}, "right", "not a valid"),
    ],
)
def test_parse_errors_name_the_field(raw: Any, field: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message.replace("(", r"\(")) as raised:
        Condition.parse(raw)
    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)


def test_deep_nesting_is_refused() -> None:
    raw: dict[str, Any] = flag("a")
    for _ in range(40):
        raw = {"not": raw}
    with pytest.raises(ConditionError, match="nest deeper"):
        Condition.parse(raw)


def test_paths_lists_every_variable_read_once() -> None:
    raw = chain(
        {"left": "trigger.text", "operator": "contains", "right": "order"},
        "AND",
        {"any": [{"left": "$workflow.total", "operator": ">", "right": "customer.limit"}]},
        "OR",
        {"left": "{{ trigger.text }}", "operator": "exists", "right": "ignored.path"},
        "OR",
        {"expression": "conversation.status == 'open' && size(customer) > 0"},
    )
    assert Condition.parse(raw).paths == (
        "trigger.text",
        "workflow.total",
        "customer.limit",
        "conversation.status",
        "customer",
    )


def test_literals_are_not_paths() -> None:
    raw = {"left": "workflow.email", "operator": "==", "right": "ada@example.com"}
    assert Condition.parse(raw).paths == ("workflow.email",)


def test_equal_conditions_parse_once() -> None:
    raw = chain(flag("a"), "AND", flag("b"))
    assert Condition.parse(raw) is Condition.parse(json.loads(json.dumps(raw)))


def test_the_parsed_condition_does_not_follow_later_edits() -> None:
    raw = flag("a")
    condition = Condition.parse(raw)
    raw["right"] = "false"
    assert condition.evaluate(ctx_of(a=True)) is True
    members = ["x", "y"]
    in_list = Condition.parse({"left": "workflow.v", "operator": "in", "right": members})
    members.append("z")
    assert in_list.evaluate({"variables": {"workflow": {"v": "z"}}}) is False


def _example_conditions() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(EXAMPLES.glob("*/workflow.json")):
        for node in json.loads(path.read_text())["nodes"]:
            if "condition" in (node.get("config") or {}):
                found.append((f"{path.parent.name}:{node['id']}", node["config"]["condition"]))
    assert found, f"no example conditions under {EXAMPLES}"
    return found


@pytest.mark.parametrize(("where", "raw"), _example_conditions())
def test_every_example_workflow_condition_parses(where: str, raw: dict[str, Any]) -> None:
    assert Condition.parse(raw).paths, where


def test_example_order_question_routes() -> None:
    raw = {
        "left": "trigger.text",
        "operator": "contains",
        "right": "order",
        "logicalOp": "AND",
        "next": {"left": "trigger.orderId", "operator": "exists", "right": ""},
    }
    condition = Condition.parse(raw)

    def ctx(payload: dict[str, Any]) -> dict[str, Any]:
        return {"trigger": {"type": "Incoming Message", "source": payload}}

    assert condition.evaluate(ctx({"text": "where is my order", "orderId": "1"})) is True
    assert condition.evaluate(ctx({"text": "where is my order"})) is False
    assert condition.evaluate(ctx({"text": "hello", "orderId": "1"})) is False
    assert condition.evaluate({}) is False
