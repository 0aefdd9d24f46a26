"""A NodeContext over a small workflow context, for calling one node's execute directly."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from executor.domain.nodes.contract import NodeContext

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def make_context(
    *,
    payload: dict[str, Any] | None = None,
    workflow: dict[str, Any] | None = None,
    conversation: dict[str, Any] | None = None,
    customer: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    node_id: str = "n",
    delivered: dict[str, Any] | None = None,
    frame: dict[str, Any] | None = None,
    wired: tuple[str, ...] = ("out",),
    inbound: int = 1,
    execution: dict[str, Any] | None = None,
) -> NodeContext:
    context = {
        "execution": execution or {"id": "ex-1", "workflowId": "wf-1", "tenantId": "t-1"},
        "trigger": {"type": "Incoming Message", "source": payload or {}},
        "variables": {
            "workflow": workflow or {},
            "conversation": conversation or {},
            "global": {},
        },
        "customer": customer or {"name": "Ann"},
        "resources": resources or {},
    }
    return NodeContext(
        node_id, "Label", context, lambda: NOW, 1, delivered, frame, frozenset(wired), inbound
    )


@pytest.fixture
def node_ctx() -> Callable[..., NodeContext]:
    return make_context
