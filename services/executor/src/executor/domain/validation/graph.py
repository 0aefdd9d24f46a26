"""Checks on the shape of the graph: triggers, ports, branches, loop exits, reachability, cycles."""

from __future__ import annotations

from collections import defaultdict

from executor.domain.nodes.contract import Category, Control
from executor.domain.nodes.registry import CATALOGUE, ERROR_PORT
from executor.domain.validation.analysis import Analysis, ParsedEdge, ParsedNode


def check_graph(analysis: Analysis) -> None:
    outgoing: dict[str, list[ParsedEdge]] = defaultdict(list)
    for edge in analysis.edges:
        outgoing[edge.source].append(edge)
    _check_triggers(analysis)
    for node in analysis.nodes.values():
        _check_ports(analysis, node, outgoing[node.id])
    _check_reachability(analysis, outgoing)
    _check_cycles(analysis, outgoing)


def _check_triggers(analysis: Analysis) -> None:
    triggers = [
        node
        for node in analysis.nodes.values()
        if node.kind is not None and node.kind.category is Category.TRIGGER
    ]
    if not triggers:
        analysis.error("no_trigger", "the workflow has no trigger node, so nothing can start it")
        return
    wanted = CATALOGUE.trigger_for(analysis.trigger_type) if analysis.trigger_type else None
    if analysis.trigger_type and all(node.kind is not wanted for node in triggers):
        analysis.warning(
            "trigger_type_mismatch",
            f"the workflow's triggerType {analysis.trigger_type!r} matches none of its trigger "
            "nodes",
            triggers[0],
        )


def _check_ports(analysis: Analysis, node: ParsedNode, edges: list[ParsedEdge]) -> None:
    if node.kind is None or node.config is None:
        return
    ports = node.config.output_ports(node.kind.ports)
    wired = {edge.port for edge in edges}
    for edge in edges:
        if edge.port != ERROR_PORT and edge.port not in ports:
            analysis.error(
                "unknown_port",
                f"edge {edge.id!r} is labelled {edge.port!r}, which is not an output of this "
                f"node (its outputs: {', '.join(ports) or 'none'}, error)",
                node,
                edge_id=edge.id,
            )
    if node.kind.name == "logic.condition" and getattr(node.config, "default", None) is None:
        for branch in ("yes", "no"):
            if branch not in wired:
                analysis.error(
                    "missing_branch",
                    f"the condition has no {branch!r} edge; wire both branches or declare a "
                    "default",
                    node,
                )
    if node.kind.control is Control.LOOP:
        if "done" not in wired:
            analysis.error("loop_without_exit", "the loop has no 'done' edge to leave by", node)
        if "body" not in wired:
            analysis.warning(
                "empty_loop", "the loop has no 'body' edge, so it repeats nothing", node
            )
    if node.kind.name == "logic.ab_split":
        for port in ports:
            if port not in wired:
                analysis.warning(
                    "unwired_variant", f"variant {port!r} has no edge: its paths end here", node
                )


def _check_reachability(analysis: Analysis, outgoing: dict[str, list[ParsedEdge]]) -> None:
    seen = {
        node.id
        for node in analysis.nodes.values()
        if node.kind is not None and node.kind.category is Category.TRIGGER
    }
    pending = list(seen)
    while pending:
        for edge in outgoing[pending.pop()]:
            if edge.target not in seen:
                seen.add(edge.target)
                pending.append(edge.target)
    for node in analysis.nodes.values():
        is_resource = node.kind is not None and node.kind.category is Category.CONFIGURATION
        if node.id not in seen and not is_resource and seen:
            analysis.warning("unreachable", "no trigger leads to this node; it never runs", node)


def _bounded(analysis: Analysis, edge: ParsedEdge) -> bool:
    """A loop's body edge: cycles through it are bounded by the loop."""
    source = analysis.nodes[edge.source]
    return source.kind is not None and source.kind.control is Control.LOOP and edge.port == "body"


def _check_cycles(analysis: Analysis, outgoing: dict[str, list[ParsedEdge]]) -> None:
    """Every cycle must enter a Loop's body: without the body edges the graph is acyclic."""
    successors = {
        node_id: [edge.target for edge in outgoing[node_id] if not _bounded(analysis, edge)]
        for node_id in analysis.nodes
    }
    for component in _strongly_connected(successors):
        if len(component) == 1 and component[0] not in successors[component[0]]:
            continue
        first = analysis.nodes[component[0]]
        names = ", ".join(repr(node_id) for node_id in component)
        analysis.error(
            "unbounded_cycle",
            f"nodes {names} form a cycle that does not go through a Loop's body; the engine "
            "never runs an unbounded cycle (use a Loop node)",
            first,
        )


def _strongly_connected(successors: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (graphs from the builder can be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in successors:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = successors[node]
            if child < len(targets):
                work.append((node, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components
