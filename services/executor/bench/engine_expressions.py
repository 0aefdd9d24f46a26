"""Micro-benchmark of the expression layer: µs per template render and per condition evaluation.

Run: `.venv/bin/python services/executor/bench/engine_expressions.py [--runs 7] [--number 20000]`
Each figure is the median over `--runs` runs of `--number` calls on one core.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from typing import Any

from executor.domain.expressions import Condition, Template, get_path

CONTEXT: dict[str, Any] = {
    "execution": {"id": "ex-1", "workflowId": "wf-1", "tenantId": "t-1", "startedAt": "2025-01-01"},
    "trigger": {
        "type": "Incoming Message",
        "source": {
            "text": "Hi, where is my order 1001? I may want a refund",
            "orderId": "1001",
            "conversationId": "c-9",
            "items": [{"sku": f"SKU-{i}", "quantity": i} for i in range(20)],
        },
    },
    "variables": {
        "workflow": {"step": "confirmation", "count": 5, "payment": {"amount": 4200, "id": "pi_1"}},
        "conversation": {"status": "open", "lastPaymentIntent": "pi_0"},
        "global": {"companyName": "Acme Inc"},
    },
    "customer": {
        "id": "cu-1",
        "name": "John Doe",
        "email": "john@example.com",
        "orders": [1, 2, 3, 4, 5, 6],
        "metadata": {"tier": "gold", "notes": "x" * 200},
    },
    "resources": {"documents": [], "phoneNumbers": [], "integrations": []},
}

TEMPLATES: dict[str, Any] = {
    "1 placeholder": "Hello {{customer.name}}!",
    "2 placeholders": "Order #{{trigger.orderId}} for {{ customer.name }}",
    "3 placeholders": "{{customer.name}} <{{customer.email}}> paid {{workflow.payment.amount}}",
    "whole value (list)": "{{trigger.items}}",
    "config dict, 3": {
        "to": "{{customer.email}}",
        "subject": "Your order {{trigger.orderId}}",
        "body": "Dear {{customer.name}}, thanks.",
        "cc": [],
    },
}

CONDITIONS: dict[str, Any] = {
    "leaf ==": {"left": "conversation.status", "operator": "==", "right": "open"},
    "leaf < numeric": {"left": "workflow.payment.amount", "operator": "<", "right": "5000"},
    "leaf contains": {"left": "trigger.text", "operator": "contains", "right": "order"},
    "chain of 3 (AND/OR)": {
        "left": "trigger.text",
        "operator": "contains",
        "right": "order",
        "logicalOp": "AND",
        "next": {
            "left": "trigger.orderId",
            "operator": "exists",
            "right": "",
            "logicalOp": "OR",
            "next": {"left": "customer.metadata.tier", "operator": "in", "right": "gold,vip"},
        },
    },
    "matches (RE2)": {"left": "trigger.text", "operator": "matches", "right": "(?i)refund"},
    "CEL size()": "customer.orders.size() > 5",
    "CEL contains": 'trigger.text.contains("refund") && workflow.count >= 5',
}


def _median_us(call: Callable[[], object], runs: int, number: int) -> float:
    timings = timeit.repeat(call, repeat=runs, number=number)
    return statistics.median(timings) / number * 1e6


def main() -> None:
    """Print µs per call for each template and condition, median of several runs."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args()

    print(f"median of {args.runs} runs x {args.number} calls, µs per call")
    us = _median_us(lambda: get_path(CONTEXT, "customer.name"), args.runs, args.number)
    print(f"  get_path customer.name            {us:7.2f}")
    for name, value in TEMPLATES.items():
        template = Template.compile(value)
        us = _median_us(lambda t=template: t.render(CONTEXT), args.runs, args.number)
        print(f"  template {name:<24}{us:7.2f}")
    cached = _median_us(lambda: Template.compile(TEMPLATES["3 placeholders"]), 3, args.number)
    print(f"  Template.compile (cache hit, str) {cached:6.2f}")
    for name, raw in CONDITIONS.items():
        condition = Condition.parse(raw)
        us = _median_us(lambda c=condition: c.evaluate(CONTEXT), args.runs, args.number)
        print(f"  condition {name:<23}{us:7.2f}")


if __name__ == "__main__":
    main()
