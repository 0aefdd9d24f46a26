"""In-process interpreter benchmark: node runs per second and microseconds per node run.

    .venv/bin/python services/executor/bench/interpreter.py [--repeats 7] [--profile]

Two workflows, compiled once (as the runtime caches them per version), each execution started
from a fresh context and advanced to completion: a 10-node mix of conditions, Set Variable and
interpolation, and a 1,000-iteration loop. Prints the median of several timed runs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from executor.domain.interpreter import (
    CompiledWorkflow,
    ExecutionStatus,
    advance,
    compile_workflow,
    start,
)

TARGET_RUNS_PER_SECOND = 50_000
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def _node(node_id: str, node_type: str, label: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "label": label, "config": config}


def _edge(source: str, target: str, label: str | None = None) -> dict[str, Any]:
    edge = {"id": f"{source}-{target}-{label}", "source": source, "target": target}
    return edge | ({"label": label} if label else {})


def mixed_workflow() -> dict[str, Any]:
    """Ten in-process nodes: conditions, Set Variable operations and interpolation."""
    nodes = [
        _node("t", "trigger", "Incoming Message", {}),
        _node(
            "count", "action", "Set Variable", {"path": "workflow.count", "operation": "increment"}
        ),
        _node(
            "vip",
            "condition",
            "VIP?",
            {"condition": {"left": "customer.tier", "operator": "==", "right": "gold"}},
        ),
        _node(
            "greet",
            "action",
            "Set Variable",
            {
                "path": "workflow.greeting",
                "value": "Hello {{customer.name}}, order {{trigger.orderId}}",
            },
        ),
        _node("plain", "action", "Set Variable", {"path": "workflow.greeting", "value": "Hi"}),
        _node(
            "order",
            "condition",
            "About an order?",
            {
                "condition": {
                    "left": "trigger.text",
                    "operator": "contains",
                    "right": "order",
                    "logicalOp": "AND",
                    "next": {"left": "trigger.orderId", "operator": "exists", "right": ""},
                }
            },
        ),
        _node(
            "items",
            "action",
            "Set Variable",
            {"path": "workflow.items", "operation": "append", "value": "{{trigger.orderId}}"},
        ),
        _node(
            "total",
            "action",
            "Set Variable",
            {"path": "workflow.total", "value": "{{trigger.amount}}"},
        ),
        _node(
            "big",
            "condition",
            "Big order?",
            {"condition": {"left": "workflow.total", "operator": ">=", "right": "100"}},
        ),
        _node(
            "note",
            "action",
            "Set Variable",
            {"path": "conversation.note", "value": "{{workflow.greeting}} ({{workflow.count}})"},
        ),
    ]
    edges = [
        _edge("t", "count"),
        _edge("count", "vip"),
        _edge("vip", "greet", "yes"),
        _edge("vip", "plain", "no"),
        _edge("greet", "order"),
        _edge("plain", "order"),
        _edge("order", "items", "yes"),
        _edge("order", "note", "no"),
        _edge("items", "total"),
        _edge("total", "big"),
        _edge("big", "note", "yes"),
        _edge("big", "note", "no"),
    ]
    return {"name": "mixed", "triggerType": "Incoming Message", "nodes": nodes, "edges": edges}


def loop_workflow(iterations: int = 1000) -> dict[str, Any]:
    """A count loop of `iterations` turns whose body interpolates, branches and accumulates."""
    nodes = [
        _node("t", "trigger", "Incoming Message", {}),
        _node("loop", "logic", "Loop", {"type": "count", "count": iterations}),
        _node("even", "condition", "Even?", {"expression": "workflow.index % 2 == 0"}),
        _node(
            "sum",
            "action",
            "Set Variable",
            {"path": "workflow.sum", "operation": "increment", "value": "{{workflow.index}}"},
        ),
        _node(
            "odd",
            "action",
            "Set Variable",
            {"path": "workflow.last", "value": "odd {{workflow.index}}"},
        ),
        _node(
            "done",
            "action",
            "Set Variable",
            {"path": "workflow.result", "value": "{{workflow.sum}}"},
        ),
    ]
    edges = [
        _edge("t", "loop"),
        _edge("loop", "even", "body"),
        _edge("even", "sum", "yes"),
        _edge("even", "odd", "no"),
        _edge("loop", "done", "done"),
    ]
    return {"name": "loop", "triggerType": "Incoming Message", "nodes": nodes, "edges": edges}


def fresh_context() -> dict[str, Any]:
    return {
        "execution": {
            "id": "bench",
            "workflowId": "bench",
            "tenantId": "t",
            "startedAt": "2025-01-01T00:00:00+00:00",
        },
        "trigger": {
            "type": "Incoming Message",
            "source": {"text": "where is my order", "orderId": "1001", "amount": 250},
        },
        "variables": {"workflow": {}, "conversation": {}, "global": {}},
        "customer": {"name": "Ann", "tier": "gold"},
        "resources": {},
    }


async def run_batch(workflow: CompiledWorkflow, executions: int) -> tuple[int, float]:
    """Node runs and CPU seconds for `executions` complete executions.

    CPU time of this process, not wall time: the figure is per core and other processes on the
    machine do not inflate it.
    """
    runs = 0
    began = time.process_time()
    for _ in range(executions):
        state = start(workflow, fresh_context())
        outcome = await advance(workflow, state, now=clock, max_steps=1_000_000)
        if outcome.status is not ExecutionStatus.COMPLETED:
            raise RuntimeError(f"{workflow.name} ended {outcome.status}: {outcome.error}")
        runs += len(outcome.node_runs)
    return runs, time.process_time() - began


def measure(name: str, workflow: CompiledWorkflow, executions: int, repeats: int) -> float:
    asyncio.run(run_batch(workflow, max(1, executions // 10)))  # warm caches
    rates, runs = [], 0
    for _ in range(repeats):
        runs, seconds = asyncio.run(run_batch(workflow, executions))
        rates.append(runs / seconds)
    rate = statistics.median(rates)
    per_execution = runs // executions
    print(
        f"{name:<28} {per_execution:>6} node runs/execution  {rate:>10,.0f} node runs/s  "
        f"{1e6 / rate:>6.2f} µs/node  "
        f"(median of {repeats}, min {min(rates):,.0f}, max {max(rates):,.0f})"
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="profile the loop workflow instead")
    arguments = parser.parse_args()
    mixed = compile_workflow(mixed_workflow())
    loop = compile_workflow(loop_workflow())
    if arguments.profile:
        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, run_batch(loop, 20))
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return 0
    rates = [
        measure("10-node mix", mixed, 2_000, arguments.repeats),
        measure("1,000-iteration loop", loop, 10, arguments.repeats),
    ]
    worst = min(rates)
    verdict = "meets" if worst >= TARGET_RUNS_PER_SECOND else "MISSES"
    print(f"slowest {worst:,.0f} node runs/s {verdict} the target of {TARGET_RUNS_PER_SECOND:,}")
    return 0 if worst >= TARGET_RUNS_PER_SECOND else 1


if __name__ == "__main__":
    raise SystemExit(main())
