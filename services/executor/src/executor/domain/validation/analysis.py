"""Reads a builder definition into nodes with kinds and parsed configs, collecting problems.

Validation and compilation share this reading, so a workflow that validates compiles exactly as
it was checked. It never raises on malformed input: everything becomes a Problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from executor.domain.nodes.contract import NodeConfig
from executor.domain.nodes.registry import CATALOGUE, NodeKind
from executor.domain.validation.problems import Problem, Severity


@dataclass(slots=True)
class ParsedNode:
    id: str
    label: str
    node_type: str
    raw_config: dict[str, Any]
    kind: NodeKind | None = None
    config: NodeConfig | None = None


@dataclass(frozen=True, slots=True)
class ParsedEdge:
    id: str
    source: str
    target: str
    port: str


@dataclass(slots=True)
class Analysis:
    name: str
    trigger_type: str
    nodes: dict[str, ParsedNode] = field(default_factory=dict)
    edges: list[ParsedEdge] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity is Severity.ERROR]

    def error(self, code: str, message: str, node: ParsedNode | None = None, **where: Any) -> None:
        self._add(Severity.ERROR, code, message, node, where)

    def warning(
        self, code: str, message: str, node: ParsedNode | None = None, **where: Any
    ) -> None:
        self._add(Severity.WARNING, code, message, node, where)

    def _add(
        self,
        severity: Severity,
        code: str,
        message: str,
        node: ParsedNode | None,
        where: dict[str, Any],
    ) -> None:
        if node is not None:
            where = {"node_id": node.id, "label": node.label, **where}
        self.problems.append(Problem(severity, code, message, **where))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _as_mapping(definition: object) -> Mapping[str, Any] | None:
    if isinstance(definition, BaseModel):
        return definition.model_dump(mode="json")
    return definition if isinstance(definition, Mapping) else None


def _read_nodes(analysis: Analysis, raw_nodes: Any) -> None:
    if not isinstance(raw_nodes, list):
        analysis.error("no_nodes", "the workflow has no list of nodes")
        return
    for position, raw in enumerate(raw_nodes):
        node_id = raw.get("id") if isinstance(raw, Mapping) else None
        if not isinstance(node_id, str) or not node_id:
            analysis.error("node_without_id", f"node #{position} has no id", node_id=f"#{position}")
            continue
        config = raw.get("config")
        node = ParsedNode(
            id=node_id,
            label=_text(raw.get("label")),
            node_type=_text(raw.get("type")),
            raw_config=dict(config) if isinstance(config, Mapping) else {},
        )
        if node_id in analysis.nodes:
            analysis.error("duplicate_node", f"two nodes have the id {node_id!r}", node)
            continue
        if config is not None and not isinstance(config, Mapping):
            analysis.error("config_invalid", "config must be an object", node, field="config")
        analysis.nodes[node_id] = node
        _read_kind(analysis, node)


def _read_kind(analysis: Analysis, node: ParsedNode) -> None:
    node.kind = CATALOGUE.resolve(node.node_type, node.label)
    if node.kind is None:
        analysis.error(
            "unknown_kind",
            f"unknown node: type {node.node_type!r} with label {node.label!r} is not in the "
            "node catalogue",
            node,
        )
        return
    try:
        node.config = node.kind.config_model.model_validate(node.raw_config)
    except ValidationError as failure:
        for error in failure.errors(include_url=False):
            location = ".".join(str(part) for part in error["loc"])
            analysis.error(
                "config_invalid",
                error["msg"],
                node,
                field=location or None,
            )
    except Exception as failure:  # a config validator must never take validation down
        analysis.error("config_invalid", f"config cannot be read: {failure}", node)


def _read_edges(analysis: Analysis, raw_edges: Any) -> None:
    if raw_edges is None:
        return
    if not isinstance(raw_edges, list):
        analysis.error("edges_invalid", "edges must be a list")
        return
    seen: set[str] = set()
    for position, raw in enumerate(raw_edges):
        raw = raw if isinstance(raw, Mapping) else {}
        edge_id = _text(raw.get("id")) or f"#{position}"
        source, target = _text(raw.get("source")), _text(raw.get("target"))
        source_node, target_node = analysis.nodes.get(source), analysis.nodes.get(target)
        anchor = source_node or target_node
        if edge_id in seen:
            analysis.error("duplicate_edge", f"two edges have the id {edge_id!r}", anchor)
        seen.add(edge_id)
        if source_node is None or target_node is None:
            end = "source" if source_node is None else "target"
            missing = source if source_node is None else target
            analysis.error(
                "dangling_edge",
                f"edge {edge_id!r} has {end} {missing!r}, which is not a node",
                anchor,
                edge_id=edge_id,
            )
            continue
        label = raw.get("label")
        port = source_node.kind.port_for(_text(label)) if source_node.kind else "out"
        analysis.edges.append(ParsedEdge(edge_id, source, target, port))


def read_definition(definition: object) -> Analysis:
    """Read `definition` into kinds, configs and ports; reading problems are recorded."""
    mapping = _as_mapping(definition)
    if mapping is None:
        analysis = Analysis(name="", trigger_type="")
        analysis.error("not_a_workflow", "a workflow definition is a JSON object")
        return analysis
    analysis = Analysis(
        name=_text(mapping.get("name")), trigger_type=_text(mapping.get("triggerType"))
    )
    _read_nodes(analysis, mapping.get("nodes"))
    _read_edges(analysis, mapping.get("edges"))
    return analysis
