"""The workflow definition exactly as the visual builder saves it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NodePosition(BaseModel):
    """Where the builder draws a node; the engine ignores it."""

    model_config = ConfigDict(frozen=True, extra="allow")
    x: float = 0
    y: float = 0


class WorkflowNode(BaseModel):
    """One node: ``type`` is the palette category, ``label`` the component's name."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1)
    type: str = Field(min_length=1, description="trigger, configuration, condition, logic, ...")
    label: str = Field(description="The palette name, or a free label on condition nodes.")
    config: dict[str, Any] = Field(default_factory=dict)
    position: NodePosition | None = None


class WorkflowEdge(BaseModel):
    """A connection; ``label`` picks the branch (yes/no, a variant, body/done, error)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    label: str | None = None


class WorkflowDefinition(BaseModel):
    """A workflow as saved by the builder."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1)
    description: str | None = None
    triggerType: str = Field(min_length=1)
    nodes: list[WorkflowNode]
    edges: list[WorkflowEdge] = Field(default_factory=list)


def stored_definition(definition: dict[str, Any]) -> dict[str, Any]:
    """How a version's definition is stored (`workflow_versions`): as JSON text. A node's config
    may hold what a MongoDB-wire server refuses in a document: nested arrays (an Odoo domain,
    Slack blocks; FerretDB refuses them), keys with `.` or `$`."""
    return {"definition_json": json.dumps(definition, separators=(",", ":"), ensure_ascii=False)}


def definition_of(version: dict[str, Any]) -> dict[str, Any]:
    """A stored version's definition (also of a version stored before it was JSON text)."""
    text = version.get("definition_json")
    if text is not None:
        definition: dict[str, Any] = json.loads(text)
        return definition
    return dict(version["definition"])
