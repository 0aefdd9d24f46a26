"""POST /v1/workflows/preview on the executor: the report `connectflo preview` prints, for the
same input; problems naming what is wrong; the time and node-run limits. Without start-up:
the preview needs neither Kafka nor MongoDB, and publishes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from executor.app import create_app
from executor.cli import main
from executor.domain.interpreter import compile_workflow
from executor.preview import PreviewLimitReached, preview_context, run_preview
from executor.settings import Settings
from starlette.testclient import TestClient

GOLDEN = Path(__file__).parent / "golden"


def client(**settings: Any) -> TestClient:
    return TestClient(create_app(Settings(**settings)))  # not entered: no start-up


def case_of(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    workflow = json.loads((GOLDEN / name / "workflow.json").read_text())
    case = json.loads((GOLDEN / name / "case.json").read_text())
    mocks = {
        node: answer if isinstance(answer, list) else [answer]
        for node, answer in case.get("mocks", {}).items()
    }
    body = {
        "definition": workflow,
        "trigger": case["trigger"],
        "customer": case.get("customer"),
        "variables": case.get("variables", {}),
        "mocks": mocks,
    }
    return body, case


def cli_report(body: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp: Path) -> Any:
    path = tmp / "workflow.json"
    path.write_text(json.dumps(body["definition"]))
    arguments = ["preview", str(path), "--trigger-type", body["trigger"]["type"]]
    arguments += ["--payload", json.dumps(body["trigger"]["payload"])]
    arguments += ["--customer", json.dumps(body["customer"])]
    arguments += ["--variables", json.dumps(body["variables"])]
    for node_id, answers in body["mocks"].items():
        arguments += [arg for one in answers for arg in ("--mock", f"{node_id}={json.dumps(one)}")]
    assert main(arguments) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", ["refund-request", "loop-condition-ab", "sla-breach-follow-up"])
def test_the_answer_is_what_the_cli_prints(name, capsys, tmp_path) -> None:
    body, _ = case_of(name)
    answer = client().post("/v1/workflows/preview", json=body)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report == cli_report(body, capsys, tmp_path)
    assert report["executed"] and report["effects"]


def test_the_refund_example_runs_as_its_golden_case() -> None:
    body, case = case_of("refund-request")
    report = client().post("/v1/workflows/preview", json=body).json()
    assert report["status"] == case["expected"]["status"] == "completed"
    assert report["effects"] == case["expected"]["effects"]
    assert report["variables"] == case["expected"]["variables"]


def test_an_invalid_workflow_is_422_naming_each_problem() -> None:
    body, _ = case_of("refund-request")
    body["definition"]["nodes"].append({"id": "x", "type": "action", "label": "Fax", "config": {}})
    answer = client().post("/v1/workflows/preview", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:connectflo:problem:invalid-workflow"
    assert "node 'x' (Fax)" in problem["detail"]
    index = len(body["definition"]["nodes"]) - 1
    assert {"name": f"body.definition.nodes[{index}]", "node_id": "x"}.items() <= next(
        e for e in problem["errors"] if e.get("node_id") == "x"
    ).items()


def test_a_body_that_is_not_a_preview_request_is_a_problem() -> None:
    c = client()
    bad = c.post("/v1/workflows/preview", content=b"{oops")
    assert bad.status_code == 400 and bad.json()["errors"][0]["name"] == "body"
    body, _ = case_of("refund-request")
    for wrong, name in (
        ({**body, "trigger": {}}, "body.trigger.type"),
        ({**body, "mocks": {"pi": "no list"}}, "body.mocks.pi"),
        ({k: v for k, v in body.items() if k != "definition"}, "body.definition"),
        ([], "body"),
    ):
        answer = c.post("/v1/workflows/preview", json=wrong)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert any(e["name"] == name for e in answer.json()["errors"]), answer.json()


def test_a_run_over_its_node_runs_is_422_naming_the_limit() -> None:
    body, _ = case_of("loop-condition-ab")
    answer = client(preview_max_node_runs=5).post("/v1/workflows/preview", json=body)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == "urn:connectflo:problem:preview-step-budget"
    assert problem["detail"] == "the preview needed more than 5 node runs, its limit"


def test_a_run_over_its_time_is_422_naming_the_limit() -> None:
    body, _ = case_of("refund-request")
    answer = client(preview_timeout_seconds=1e-9).post("/v1/workflows/preview", json=body)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == "urn:connectflo:problem:preview-timeout"
    assert problem["detail"] == "the preview ran longer than 1e-09 s, its limit"


async def test_the_preview_stops_by_itself_at_its_deadline() -> None:
    """The route's waiter gives up on time; the run in its thread stops at the next round."""
    body, _ = case_of("loop-condition-ab")
    workflow = compile_workflow(body["definition"])
    context = preview_context(
        workflow,
        trigger_type=body["trigger"]["type"],
        payload=body["trigger"]["payload"],
        customer=None,
        variables=None,
        started_at=_now(),
    )
    with pytest.raises(PreviewLimitReached) as stopped:
        await run_preview(workflow, context, mocks={}, now=_now, timeout_seconds=1e-9)
    assert stopped.value.limit == "seconds"


def _now() -> datetime:
    return datetime.now(UTC)
