"""Expression-string conditions (CEL): names bound, errors as false, and only true is true."""

from __future__ import annotations

import time
from typing import Any

import pytest
from executor.domain.expressions import Condition, ConditionError

CTX: dict[str, Any] = {
    "execution": {"id": "ex-1", "tenantId": "t-1"},
    "trigger": {
        "type": "Incoming Message",
        "source": {
            "text": "I want a refund",
            "items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 0}],
            "note": None,
            "first name": "Ada",
        },
    },
    "variables": {
        "workflow": {"count": 5, "ratio": 0.5, "tags": ["vip", "new"], "step": "review"},
        "conversation": {"status": "open"},
        "global": {"companyName": "Acme Inc"},
    },
    "customer": {"name": "Ada", "orders": [1, 2, 3, 4, 5, 6], "metadata": {"tier": "gold"}},
    "resources": {"documents": []},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("customer.orders.size() > 5", True),
        ("size(customer.orders) > 6", False),
        ('trigger.text.contains("refund")', True),
        ('trigger.text.startsWith("I") && trigger.text.endsWith("refund")', True),
        ('trigger.type == "Incoming Message"', True),
        ('trigger.source.text == "I want a refund"', True),
        ("trigger.items.exists(i, i.qty == 0)", True),
        ("trigger.items.all(i, i.qty > 0)", False),
        ('trigger.items[0].sku == "A"', True),
        ('trigger["first name"] == "Ada"', True),
        ("trigger.note == null", True),
        ("workflow.count >= 5 && workflow.ratio < 1.0", True),
        ("workflow.count > 4.5", True),  # int against double compares
        ('"vip" in workflow.tags', True),
        ('workflow.tags.contains("new")', True),  # list contains from the extended library
        ('conversation.status == "open"', True),
        ('global.companyName.lowerAscii().startsWith("acme")', True),
        ('variables.workflow.step == "review"', True),
        ('execution.tenantId == "t-1"', True),
        ('customer.metadata.tier in ["gold", "vip"]', True),
        ("has(customer.metadata.tier) && !has(customer.metadata.vip)", True),
        ("has(trigger.text)", True),
        ("size(resources.documents) == 0", True),
        ("math.greatest(workflow.count, 9) == 9", True),
        ("workflow.tags.map(t, t.size()).exists(n, n == 3)", True),
        ('customer.orders.exists(workflow, workflow > 5) && workflow == "shadowed"', False),
        ('"workflow.count" == "workflow." + "count"', True),  # names in strings are text
        ("r'\\d' == '\\\\d'", True),
    ],
)
def test_expressions(source: str, expected: bool) -> None:
    assert Condition.parse(source).evaluate(CTX) is expected


@pytest.mark.parametrize(
    "source",
    [
        "trigger.missing == 1",
        "!(trigger.missing == 1)",  # an error anywhere makes the whole expression false
        "workflow.nothing.deeper",
        "customer.name.first == 1",
        'workflow.count == "5"',  # CEL does not coerce int and string
        "workflow.count / 0 == 1",
        "trigger.items[9].sku == 1",
        "unknownName == 1",
        "workflow.count",  # an int, not true
        '"true"',  # a string, not true
        "trigger.note.x == 1",
    ],
)
def test_errors_and_non_booleans_are_false(source: str) -> None:
    assert Condition.parse(source).evaluate(CTX) is False


def test_null_customer_and_empty_context_are_false_not_errors() -> None:
    condition = Condition.parse('customer.name == "Ada"')
    assert condition.evaluate({**CTX, "customer": None}) is False
    assert condition.evaluate({}) is False
    assert Condition.parse("size(workflow) == 0").evaluate({}) is True  # scopes default to {}


def test_the_trigger_payload_wins_over_the_envelope() -> None:
    ctx = {"trigger": {"type": "Incoming Message", "source": {"type": "sms"}}}
    assert Condition.parse('trigger.type == "sms"').evaluate(ctx) is True
    assert Condition.parse('trigger["type"] == "sms"').evaluate(ctx) is True


def test_one_expression_reads_fresh_values_each_time() -> None:
    condition = Condition.parse("workflow.count > 3")
    assert condition.evaluate({"variables": {"workflow": {"count": 4}}}) is True
    assert condition.evaluate({"variables": {"workflow": {"count": 2}}}) is False
    assert condition.evaluate({"variables": {"workflow": {}}}) is False


@pytest.mark.parametrize("source", ["a +", "customer.name ==", "(", "1 ++ 2"])
def test_syntax_errors_are_condition_errors(source: str) -> None:
    with pytest.raises(ConditionError, match="invalid expression"):
        Condition.parse(source)


def test_paths_of_an_expression() -> None:
    condition = Condition.parse(
        'trigger.text.contains("x") && has(customer.metadata.tier) '
        '&& size(workflow.tags) > 0 && "customer.fake" != "" && conversation.status == "open"'
    )
    assert condition.paths == (
        "trigger.text",
        "customer.metadata.tier",
        "workflow.tags",
        "conversation.status",
    )


def test_large_untouched_payload_does_not_slow_evaluation() -> None:
    payload = {f"field{i}": {"text": "x" * 50, "n": list(range(20))} for i in range(300)}
    ctx = {"trigger": {"type": "t", "source": {**payload, "text": "refund please"}}}
    condition = Condition.parse('trigger.text.contains("refund")')
    started = time.perf_counter()
    for _ in range(200):
        assert condition.evaluate(ctx) is True
    # Binding the whole payload would cost about a millisecond per evaluation.
    assert (time.perf_counter() - started) / 200 < 200e-6


def test_cel_regex_is_linear_time() -> None:
    ctx = {"variables": {"workflow": {"t": "a" * 100_000 + "!"}}}
    started = time.perf_counter()
    assert Condition.parse('workflow.t.matches("(a+)+$")').evaluate(ctx) is False
    assert time.perf_counter() - started < 0.5
