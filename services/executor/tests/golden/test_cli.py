"""`connectflo validate` and `connectflo preview` on the builder's examples, exactly as saved."""

import json
from pathlib import Path

import pytest
from executor.cli import main

GOLDEN = Path(__file__).parent
EXAMPLES = [
    "bulk-order-notify",
    "negative-sentiment-escalation",
    "order-status-bot",
    "refund-request",
    "sla-breach-follow-up",
]


@pytest.mark.parametrize("name", EXAMPLES)
def test_validate_accepts_the_examples(name, capsys):
    assert main(["validate", str(GOLDEN / name / "workflow.json")]) == 0
    assert capsys.readouterr().out.strip() == "0 error(s), 0 warning(s)"


def test_validate_prints_every_problem_and_exits_1(tmp_path, capsys):
    broken = json.loads((GOLDEN / "order-status-bot" / "workflow.json").read_text())
    broken["nodes"].append({"id": "x", "type": "action", "label": "Fax", "config": {}})
    broken["edges"].append({"id": "ex", "source": "r1", "target": "nowhere"})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))

    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "node 'x' (Fax)" in out
    assert "unknown_kind" in out
    assert "dangling_edge" in out
    assert "2 error(s), 1 warning(s)" in out


@pytest.mark.parametrize("name", EXAMPLES)
def test_preview_runs_the_examples_like_the_golden_case(name, capsys):
    case = json.loads((GOLDEN / name / "case.json").read_text())
    arguments = [
        "preview",
        str(GOLDEN / name / "workflow.json"),
        "--trigger-type",
        case["trigger"]["type"],
        "--payload",
        json.dumps(case["trigger"]["payload"]),
        "--customer",
        json.dumps(case["customer"]),
        "--variables",
        json.dumps(case.get("variables", {})),
    ]
    for node_id, answer in case.get("mocks", {}).items():
        for one in answer if isinstance(answer, list) else [answer]:
            arguments += ["--mock", f"{node_id}={json.dumps(one)}"]

    assert main(arguments) == 0
    report = json.loads(capsys.readouterr().out)

    assert set(report) == {"status", "executed", "variables", "effects", "error"}
    assert report["status"] == case["expected"]["status"]
    assert report["effects"] == case["expected"]["effects"]
    assert report["variables"] == case["expected"]["variables"]
    assert all(
        set(step) == {"node_id", "label", "kind", "status", "port"} for step in report["executed"]
    )


def test_preview_reports_waiting_when_a_mock_holds_the_effect(capsys):
    workflow = GOLDEN / "sla-breach-follow-up" / "workflow.json"

    code = main(
        [
            "preview",
            str(workflow),
            "--trigger-type",
            "SLA Breached",
            "--payload",
            "{}",
            "--mock",
            'wait={"$wait": true}',
        ]
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["status"] == "waiting"
    assert report["executed"][-1] == {
        "node_id": "wait",
        "label": "Wait/Delay",
        "kind": "logic.wait_delay",
        "status": "waiting",
        "port": None,
    }


def test_preview_reports_a_failure_with_the_node(capsys):
    workflow = GOLDEN / "order-status-bot" / "workflow.json"
    payload = json.dumps({"text": "my order", "orderId": "1", "channel": "chat"})

    main(
        [
            "preview",
            str(workflow),
            "--trigger-type",
            "Incoming Message",
            "--payload",
            payload,
            "--mock",
            'shop={"$error": {"message": "Shopify down"}}',
        ]
    )

    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "failed"
    assert report["error"] == {"node_id": "shop", "message": "Shopify down"}


def test_preview_refuses_an_invalid_workflow(tmp_path, capsys):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"name": "w", "triggerType": "x", "nodes": [], "edges": []}))

    assert main(["preview", str(path), "--trigger-type", "Incoming Message"]) == 1
    assert "no trigger" in capsys.readouterr().err


def test_preview_rejects_a_mock_that_is_not_json():
    with pytest.raises(SystemExit):
        main(["preview", "w.json", "--trigger-type", "T", "--mock", "shop=not json"])


def test_preview_starts_nothing_for_a_trigger_the_workflow_does_not_admit(capsys):
    arguments = [
        "preview",
        str(GOLDEN / "refund-request" / "workflow.json"),
        "--trigger-type",
        "Intent Detected",
        "--payload",
        json.dumps({"intent": "cancel_subscription", "confidence": 0.1}),
    ]
    assert main(arguments) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "not_started" and report["effects"] == []
    assert report["not_started"] == "intent 'cancel_subscription' is not 'refund_request'"
