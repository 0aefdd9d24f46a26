"""Builds small workflows and drives them to the end with the preview driver."""

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest
from executor.domain.interpreter import compile_workflow
from executor.preview import preview_context, run_preview

FIXED_NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

Run = Callable[..., Coroutine[Any, Any, dict[str, Any]]]


def build_workflow(
    nodes: list[tuple], edges: list[tuple], trigger: str = "Incoming Message"
) -> dict:
    """`nodes`: (id, type, label, config); `edges`: (source, target) or (source, target, label)."""
    return {
        "name": "test",
        "triggerType": trigger,
        "nodes": [
            {"id": node_id, "type": node_type, "label": label, "config": config}
            for node_id, node_type, label, config in nodes
        ],
        "edges": [
            {
                "id": f"e{i}",
                "source": edge[0],
                "target": edge[1],
                **({"label": edge[2]} if len(edge) > 2 else {}),
            }
            for i, edge in enumerate(edges)
        ],
    }


@pytest.fixture
def run() -> Run:
    async def run(
        definition: dict,
        payload: dict | None = None,
        *,
        trigger_type: str | None = None,
        customer: dict | None = None,
        variables: dict | None = None,
        mocks: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        compiled = compile_workflow(definition)
        context = preview_context(
            compiled,
            trigger_type=trigger_type or definition["triggerType"],
            payload=payload or {},
            customer=customer,
            variables=variables,
            started_at=FIXED_NOW,
        )
        queued = {
            node_id: answer if isinstance(answer, list) else [answer]
            for node_id, answer in (mocks or {}).items()
        }
        return await run_preview(compiled, context, mocks=queued, now=lambda: FIXED_NOW)

    return run


@pytest.fixture
def workflow() -> Callable[..., dict]:
    return build_workflow
