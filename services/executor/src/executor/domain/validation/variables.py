"""Warns about variable paths that nothing can have produced by the time a node reads them.

`workflow.<name>` must be written by a node upstream (Set Variable, an output variable, a loop's
item, an A/B choice, a caught error); the other scopes come from outside the workflow (trigger
payload, customer, conversation and tenant variables) and cannot be checked here. A path whose
first segment is no context root is always a mistake.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from executor.domain.expressions import Template
from executor.domain.nodes.contract import Control
from executor.domain.nodes.registry import ERROR_PORT
from executor.domain.validation.analysis import Analysis, ParsedNode

ROOTS = frozenset(
    {
        "execution",
        "trigger",
        "variables",
        "customer",
        "resources",
        "workflow",
        "conversation",
        "global",
    }
)
_HEAD = re.compile(r"^\s*\$?([^.\[\s]+)(?:\.([^.\[\s]+)|\[\s*[\"']?([^\]\"']+))?")


def _name(path: str) -> tuple[str, str | None]:
    """The root and the workflow variable a path reads (`variables.workflow.x` counts too)."""
    match = _HEAD.match(path)
    if match is None:
        return "", None
    root, name = match[1], match[2] or match[3]
    if root == "variables" and name == "workflow":
        tail = path.split(".", 3)
        return "workflow", tail[2].split("[")[0] if len(tail) > 2 else None
    return root, name


def _reads(node: ParsedNode) -> tuple[str, ...]:
    if node.config is None:
        return ()
    raw = {k: v for k, v in node.raw_config.items() if k not in node.config.raw_fields}
    try:
        placeholders = Template.compile(raw).placeholders
    except Exception:  # the template layer reports its own syntax; here we only want paths
        placeholders = ()
    return (*placeholders, *node.config.read_paths())


def _produced(analysis: Analysis) -> dict[str, set[str]]:
    produced: dict[str, set[str]] = defaultdict(set)
    for node in analysis.nodes.values():
        if node.config is None:
            continue
        for path in node.config.produced_paths():
            root, name = _name(path)
            if root == "workflow" and name:
                produced[node.id].add(name)
    for edge in analysis.edges:
        if edge.port == ERROR_PORT:
            produced[edge.source].add("error")
    return produced


def _ancestors(analysis: Analysis) -> dict[str, set[str]]:
    """For each node, the nodes from which it can be reached (itself included for loops)."""
    incoming: dict[str, list[str]] = defaultdict(list)
    for edge in analysis.edges:
        incoming[edge.target].append(edge.source)
    result: dict[str, set[str]] = {}
    for node_id, node in analysis.nodes.items():
        seen: set[str] = set()
        pending = list(incoming[node_id])
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(incoming[current])
        if node.kind is not None and node.kind.control is Control.LOOP:
            seen.add(node_id)
        result[node_id] = seen
    return result


def check_variables(analysis: Analysis) -> None:
    produced = _produced(analysis)
    ancestors = _ancestors(analysis)
    for node in analysis.nodes.values():
        reported: set[str] = set()
        available: set[Any] | None = None
        for path in _reads(node):
            root, name = _name(path)
            if path in reported:
                continue
            if root not in ROOTS:
                reported.add(path)
                analysis.warning(
                    "unknown_variable",
                    f"{path!r} starts with {root!r}, which is not a variable scope (use workflow, "
                    "conversation, global, trigger, customer, execution or resources)",
                    node,
                )
            elif root == "workflow" and name:
                if available is None:
                    available = set().union(*(produced[a] for a in ancestors[node.id]))
                if name not in available:
                    reported.add(path)
                    analysis.warning(
                        "unproduced_variable",
                        f"{path!r} is read here but no node before this one sets workflow.{name}",
                        node,
                    )
