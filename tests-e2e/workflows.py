"""Workflows the end-to-end tests save, in the builder's JSON format."""

from __future__ import annotations

from typing import Any


def greeting_workflow(name: str = "Greeting") -> dict[str, Any]:
    """trigger -> Set Variable -> Send Reply with {{customer.name}} interpolated."""
    return {
        "name": name,
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            {
                "id": "set",
                "type": "action",
                "label": "Set Variable",
                "config": {"path": "workflow.topic", "value": "{{trigger.text}}"},
            },
            {
                "id": "reply",
                "type": "action",
                "label": "Send Reply",
                "config": {"message": "Hello {{customer.name}}, about: {{workflow.topic}}"},
            },
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "set"},
            {"id": "e2", "source": "set", "target": "reply"},
        ],
    }


def refund_router_workflow(name: str = "Refund router") -> dict[str, Any]:
    """trigger -> Condition (trigger.text contains "refund") -> yes: Set Variable + Send Reply
    about the refund / no: Set Variable + Send Reply for everything else."""

    def branch(suffix: str, route: str, message: str) -> list[dict[str, Any]]:
        return [
            {
                "id": f"set_{suffix}",
                "type": "action",
                "label": "Set Variable",
                "config": {"path": "workflow.route", "value": route},
            },
            {
                "id": f"reply_{suffix}",
                "type": "action",
                "label": "Send Reply",
                "config": {"message": message},
            },
        ]

    return {
        "name": name,
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            {
                "id": "c",
                "type": "condition",
                "label": "Mentions a refund?",
                "config": {
                    "condition": {"left": "trigger.text", "operator": "contains", "right": "refund"}
                },
            },
            *branch("refund", "refunds", "Sorry {{customer.name}}, {{workflow.route}} will call."),
            *branch("other", "general", "Thanks {{customer.name}}, {{workflow.route}} answers."),
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "c"},
            {"id": "e2", "source": "c", "target": "set_refund", "label": "yes"},
            {"id": "e3", "source": "set_refund", "target": "reply_refund"},
            {"id": "e4", "source": "c", "target": "set_other", "label": "no"},
            {"id": "e5", "source": "set_other", "target": "reply_other"},
        ],
    }
