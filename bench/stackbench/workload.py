"""The workload: one 4-node workflow, and how a trigger maps to its execution."""

from __future__ import annotations

import hashlib
from typing import Any

NODES_PER_WORKFLOW = 4  # trigger, condition, set variable, send reply
NODE_RUNS_PER_WORKFLOW = 5  # the reply runs twice: requested (waiting), then settled

WORKFLOW: dict[str, Any] = {
    "name": "Bench: condition, set variable, reply",
    "triggerType": "Incoming Message",
    "nodes": [
        {
            "id": "t",
            "type": "trigger",
            "label": "Incoming Message",
            "config": {"channels": ["chat"]},
        },
        {
            "id": "c",
            "type": "condition",
            "label": "Asks about an order?",
            "config": {
                "condition": {"left": "trigger.text", "operator": "contains", "right": "order"},
                "default": "no",
            },
        },
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
            "config": {"message": "Hi {{customer.name}}, about: {{workflow.topic}}"},
        },
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "c"},
        {"id": "e2", "source": "c", "target": "set", "label": "yes"},
        {"id": "e3", "source": "set", "target": "reply"},
    ],
}


def execution_id_for(trigger_id: str, workflow_id: str) -> str:
    """The executor's id (services/executor/src/executor/runtime/triggers.py)."""
    return "exe_" + hashlib.sha256(f"{trigger_id}|{workflow_id}".encode()).hexdigest()[:24]
