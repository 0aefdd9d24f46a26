"""Golden workflows: each folder holds a builder workflow and a case; one harness runs them all.

`case.json`: `trigger` {type, payload}, optional `customer`, `variables` and `mocks` (node id ->
result, a list for successive answers, `{"$error": ...}` for a failure), and `expected`:
`status`, `path` (node runs in order: `id`, `id:port` off the `out` port, `id:end` where a
path ended, `id(failed)` / `id(waiting)` for runs that did not complete), the final
`variables` (workflow and conversation), every `effects` request, and `error`.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from executor.domain.interpreter import compile_workflow
from executor.domain.nodes.registry import CATALOGUE
from executor.domain.validation import Severity, validate_workflow
from executor.preview import preview_context, run_preview

GOLDEN = Path(__file__).parent
CASES = sorted(folder.name for folder in GOLDEN.iterdir() if (folder / "case.json").exists())
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = GOLDEN / name
    workflow = json.loads((folder / "workflow.json").read_text(encoding="utf-8"))
    case = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    return workflow, case


def step(entry: dict[str, Any]) -> str:
    """`id`, plus `(status)` unless completed, plus `:port` unless `out` (`end`: the path ended)."""
    text = entry["node_id"]
    if entry["status"] != "completed":
        text += f"({entry['status']})"
    if entry["port"] is None and entry["status"] == "completed":
        text += ":end"
    elif entry["port"] not in ("out", None):
        text += f":{entry['port']}"
    return text


async def play(workflow: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """Run a case and describe it in the shape of `expected`."""
    compiled = compile_workflow(workflow)
    context = preview_context(
        compiled,
        trigger_type=case["trigger"]["type"],
        payload=case["trigger"].get("payload", {}),
        customer=case.get("customer"),
        variables=case.get("variables"),
        started_at=NOW,
    )
    mocks = {
        node_id: answer if isinstance(answer, list) else [answer]
        for node_id, answer in case.get("mocks", {}).items()
    }
    report = await run_preview(compiled, context, mocks=mocks, now=lambda: NOW)
    return {
        "status": report["status"],
        "path": [step(entry) for entry in report["executed"]],
        "variables": report["variables"],
        "effects": report["effects"],
        "error": report["error"],
    }


@pytest.mark.parametrize("name", CASES)
async def test_golden_workflow(name):
    workflow, case = load(name)

    assert [p for p in validate_workflow(workflow) if p.severity is Severity.ERROR] == []
    assert json.loads(json.dumps(await play(workflow, case))) == case["expected"]


def test_the_golden_workflows_use_every_node_kind():
    used = set()
    for name in CASES:
        workflow, _ = load(name)
        used |= {CATALOGUE.resolve(n["type"], n["label"]).name for n in workflow["nodes"]}

    assert used == {kind.name for kind in CATALOGUE}
