"""The spec's own resolver and condition examples, as the floor of behaviour."""

from __future__ import annotations

from typing import Any

import pytest
from executor.domain.expressions import Condition, Template, get_path, set_path


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {
        "execution": {"id": "1", "workflowId": "1", "tenantId": "1", "startedAt": "2025-01-01"},
        "trigger": {"type": "Test", "source": {"orderId": "12345"}},
        "variables": {
            "workflow": {"step": "confirmation", "count": 5},
            "conversation": {"customerId": "123"},
            "global": {"companyName": "Acme Inc"},
        },
        "customer": {"id": "123", "name": "John Doe", "email": "john@example.com"},
        "resources": {},
    }


def render(text: str, ctx: dict[str, Any]) -> Any:
    return Template.compile(text).render(ctx).value


def test_resolves_simple_variable(ctx: dict[str, Any]) -> None:
    assert render("Hello {{customer.name}}", ctx) == "Hello John Doe"


def test_resolves_nested_variable(ctx: dict[str, Any]) -> None:
    assert render("Step: {{workflow.step}}", ctx) == "Step: confirmation"


def test_resolves_multiple_variables(ctx: dict[str, Any]) -> None:
    assert render("{{customer.name}} <{{customer.email}}>", ctx) == "John Doe <john@example.com>"


def test_leaves_missing_variable_as_written(ctx: dict[str, Any]) -> None:
    rendered = Template.compile("{{customer.missing}}").render(ctx)
    assert rendered.value == "{{customer.missing}}"
    assert rendered.missing == ("customer.missing",)


def test_sets_nested_variable(ctx: dict[str, Any]) -> None:
    set_path(ctx, "workflow.newVar", "value")
    assert ctx["variables"]["workflow"]["newVar"] == "value"


def test_trigger_field_reads_the_payload(ctx: dict[str, Any]) -> None:
    assert render("Order #{{trigger.orderId}}", ctx) == "Order #12345"
    assert get_path(ctx, "trigger.orderId") == "12345"


def test_compound_condition_of_the_acceptance_criteria(ctx: dict[str, Any]) -> None:
    ctx["variables"]["workflow"].update(status="active", balance=150)
    condition = Condition.parse(
        {
            "left": "workflow.status",
            "operator": "==",
            "right": "active",
            "logicalOp": "AND",
            "next": {"left": "workflow.balance", "operator": ">", "right": "100"},
        }
    )
    assert condition.evaluate(ctx) is True
    ctx["variables"]["workflow"]["balance"] = 100
    assert condition.evaluate(ctx) is False
