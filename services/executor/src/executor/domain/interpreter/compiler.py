"""Compiles a builder definition once per workflow version: kinds, configs, templates, routes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from executor.domain.expressions import Template
from executor.domain.nodes.contract import Category, Control, NodeConfig, ResourceConfig
from executor.domain.nodes.registry import NodeKind
from executor.domain.validation import Problem, Severity, analyse

_set_slot = object.__setattr__


class WorkflowInvalid(ValueError):
    """The definition has errors; `problems` holds all of them (and the warnings)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [problem for problem in problems if problem.severity is Severity.ERROR]
        summary = "; ".join(str(problem) for problem in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"workflow has {len(errors)} error(s): {summary}{more}")

    @property
    def errors(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.severity is Severity.ERROR]


@dataclass(frozen=True, slots=True)
class CompiledNode:
    """A node ready to run: its config parsed and its templates compiled, its edges by port."""

    id: str
    label: str
    kind: NodeKind
    config: NodeConfig
    raw_config: Mapping[str, Any]
    template: Template | None  # over the config fields that hold placeholders, if any
    routes: Mapping[str, tuple[str, ...]]
    wired_ports: frozenset[str]
    inbound: int

    @property
    def is_loop(self) -> bool:
        return self.kind.control is Control.LOOP

    def resolved(self, values: Mapping[str, Any]) -> NodeConfig:
        """The config with the rendered values of its templated fields.

        A shallow clone built without validation: the config was validated when compiled, and
        rendering only replaces template strings, so re-validating per run would only cost time.
        """
        config = self.config
        clone = object.__new__(type(config))
        fields = dict(config.__dict__)
        extra = config.__pydantic_extra__
        if extra is None:
            fields.update(values)
        else:
            extra = dict(extra)
            declared = type(config).model_fields
            for key, value in values.items():
                (fields if key in declared else extra)[key] = value
        _set_slot(clone, "__dict__", fields)
        _set_slot(clone, "__pydantic_extra__", extra)
        _set_slot(clone, "__pydantic_fields_set__", config.__pydantic_fields_set__)
        _set_slot(clone, "__pydantic_private__", config.__pydantic_private__)
        return clone


@dataclass(frozen=True, slots=True)
class CompiledWorkflow:
    """An immutable, shareable compiled workflow version; cache it by version id."""

    name: str
    trigger_type: str
    nodes: Mapping[str, CompiledNode]
    triggers: Mapping[str, tuple[str, ...]]  # trigger kind name -> its trigger nodes
    loop_nodes: frozenset[str]
    resources: Mapping[str, Any]
    warnings: tuple[Problem, ...]


def _template(node_config: NodeConfig, raw: Mapping[str, Any]) -> Template | None:
    templated = {k: v for k, v in raw.items() if k not in node_config.raw_fields}
    template = Template.compile(templated)
    if not template.placeholders:
        return None
    keys = [k for k, v in templated.items() if Template.compile(v).placeholders]
    return Template.compile({key: templated[key] for key in keys})


def _triggers(nodes: Mapping[str, CompiledNode]) -> dict[str, tuple[str, ...]]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for node in nodes.values():
        if node.kind.category is Category.TRIGGER:
            by_kind[node.kind.name].append(node.id)
    return {kind: tuple(node_ids) for kind, node_ids in by_kind.items()}


def compile_workflow(definition: object) -> CompiledWorkflow:
    """Compile a builder definition (dict as saved, or WorkflowDefinition).

    Raises WorkflowInvalid with every problem when the definition has errors.
    """
    analysis = analyse(definition)
    if analysis.errors:
        raise WorkflowInvalid(analysis.problems)
    routes: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    inbound: dict[str, int] = defaultdict(int)
    for edge in analysis.edges:
        routes[edge.source][edge.port].append(edge.target)
        inbound[edge.target] += 1
    nodes: dict[str, CompiledNode] = {}
    resources: dict[str, Any] = {}
    for parsed in analysis.nodes.values():
        assert parsed.kind is not None
        assert parsed.config is not None
        node_routes = {port: tuple(targets) for port, targets in routes[parsed.id].items()}
        nodes[parsed.id] = CompiledNode(
            id=parsed.id,
            label=parsed.label,
            kind=parsed.kind,
            config=parsed.config,
            raw_config=parsed.raw_config,
            template=_template(parsed.config, parsed.raw_config),
            routes=node_routes,
            wired_ports=frozenset(node_routes),
            inbound=inbound[parsed.id],
        )
        if isinstance(parsed.config, ResourceConfig):  # configuration kinds only (registry)
            name, settings = parsed.config.resource()
            resources[name] = settings
    return CompiledWorkflow(
        name=analysis.name,
        trigger_type=analysis.trigger_type,
        nodes=nodes,
        triggers=_triggers(nodes),
        loop_nodes=frozenset(n.id for n in nodes.values() if n.is_loop),
        resources=resources,
        warnings=tuple(analysis.problems),
    )
