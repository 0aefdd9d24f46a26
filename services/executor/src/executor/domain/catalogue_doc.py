"""Renders the node catalogue (docs/node-catalogue.md) from the node modules themselves.

Each kind contributes its docstring, builder labels, ports, effect and configuration schema, so
the document cannot drift from the code. `connectflo catalogue --output docs/node-catalogue.md`
writes it; a test checks the committed file is current.
"""

from __future__ import annotations

import json
from typing import Any

from executor.domain.nodes.contract import Category
from executor.domain.nodes.integration_call import IntegrationConfig
from executor.domain.nodes.registry import CATALOGUE, CONDITION_TYPE, NodeKind

_TITLES = {
    Category.TRIGGER: "Triggers",
    Category.CONFIGURATION: "Configuration",
    Category.LOGIC: "Logic",
    Category.ACTION: "Actions",
    Category.INTEGRATION: "Integrations",
    Category.ADVANCED: "Advanced",
}
_BUILDER_ONLY = frozenset({"description", "notes"})

_HEADER = """# Node catalogue

Generated from the node modules in `services/executor/src/executor/domain/nodes/` by
`connectflo catalogue --output docs/node-catalogue.md`; do not edit by hand.

A builder node `{id, type, label, config}` becomes a kind by its label (case-insensitive), or
by a canonical kind name in `type`; a node of type `condition` is a Condition whatever its
label. Every string in a config is interpolated (`{{ customer.name }}`) unless noted. Every
node also has an `error` port: a failing node with an `error` edge continues there, with the
error in `workflow.error`. Nodes with an effect ask another service to act and wait for its
result; nothing else does I/O. Every config also accepts the builder's `description` and `notes`.
"""


def _type(schema: dict[str, Any], definitions: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        fields = definitions.get(name, {}).get("properties", {})
        return "{" + ", ".join(fields) + "}"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    if "anyOf" in schema:
        parts = [_type(part, definitions) for part in schema["anyOf"] if part.get("type") != "null"]
        return " or ".join(dict.fromkeys(parts))
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), definitions)}"
    if kind == "object":
        return "object"
    return str(kind) if kind else "condition (object or expression)"


def _config_table(kind: NodeKind) -> list[str]:
    schema = kind.config_model.model_json_schema()
    definitions = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    rows = ["| Field | Type | Default |", "| --- | --- | --- |"]
    for name, field in schema.get("properties", {}).items():
        if name in _BUILDER_ONLY:
            continue
        default = "required" if name in required else f"`{json.dumps(field.get('default'))}`"
        raw = " (not interpolated)" if name in kind.config_model.raw_fields else ""
        rows.append(f"| `{name}` | {_type(field, definitions)}{raw} | {default} |")
    return rows if len(rows) > 2 else ["No configuration."]


def _facts(kind: NodeKind) -> list[str]:
    labels = ", ".join(f"`{label}`" for label in kind.labels)
    if kind.name == "logic.condition":
        labels += f", or any label on a node of type `{CONDITION_TYPE}`"
    ports = ", ".join(f"`{port}`" for port in kind.ports) or "one per variant name"
    facts = [f"- Builder labels: {labels}", f"- Ports: {ports} (and `error`)"]
    if kind.effect is not None:
        waits = "waits for the result" if kind.awaits_result else "needs no result data"
        facts.append(f"- Effect: carried out by the {kind.effect} service; {waits}")
    if issubclass(kind.config_model, IntegrationConfig) and kind.config_model.required_params:
        needs = "; ".join(
            f"`{action}`: {', '.join(params)}"
            for action, params in kind.config_model.required_params.items()
        )
        facts.append(f"- Other config fields are the action's parameters. Required: {needs}")
    return facts


def _section(kind: NodeKind) -> list[str]:
    title = kind.labels[0]
    return [
        f"### {title} (`{kind.name}`)",
        "",
        kind.doc,
        "",
        *_facts(kind),
        "",
        *_config_table(kind),
        "",
    ]


def render_catalogue() -> str:
    """The whole catalogue as Markdown."""
    lines = [_HEADER]
    for category, title in _TITLES.items():
        lines += [f"## {title}", ""]
        for kind in CATALOGUE:
            if kind.category is category:
                lines += _section(kind)
    return "\n".join(lines).rstrip() + "\n"
