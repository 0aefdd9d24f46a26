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
