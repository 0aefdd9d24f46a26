"""Save-time validation: every problem at once, each naming its node."""

import json
from pathlib import Path

import pytest
from executor.domain.interpreter import WorkflowInvalid, compile_workflow
from executor.domain.validation import Severity, validate_workflow

EXAMPLES = Path(__file__).parents[3] / "tests" / "golden"
T = {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}}


def node(node_id: str, node_type: str, label: str, config: dict | None = None) -> dict:
    return {"id": node_id, "type": node_type, "label": label, "config": config or {}}


def edge(source: str, target: str, label: str | None = None, edge_id: str | None = None) -> dict:
    return {
        "id": edge_id or f"{source}>{target}:{label}",
        "source": source,
        "target": target,
        "label": label,
    }


def definition(nodes: list[dict], edges: list[dict], trigger: str = "Incoming Message") -> dict:
    return {"name": "w", "triggerType": trigger, "nodes": nodes, "edges": edges}


def codes(problems) -> list[tuple[str, str | None, str]]:
    return [(p.code, p.node_id, p.severity) for p in problems]


REPLY = node("r", "action", "Send Reply", {"message": "hi"})


def test_a_sound_workflow_has_no_problems():
    assert validate_workflow(definition([T, REPLY], [edge("t", "r")])) == []


def test_unknown_nodes_are_rejected_with_their_id_and_label():
    problems = validate_workflow(
        definition([T, node("x", "action", "Adult Path")], [edge("t", "x")])
    )

    [problem] = problems
    assert problem.code == "unknown_kind"
    assert (problem.node_id, problem.label) == ("x", "Adult Path")
    assert "Adult Path" in problem.message


def test_config_errors_are_mapped_to_node_and_field_all_at_once():
    problems = validate_workflow(
        definition(
            [
                T,
                node("mail", "action", "Send Email", {"subject": "s", "cc": "not-a-list"}),
                node("wait", "logic", "Wait/Delay", {"duration": "forever"}),
                node("set", "action", "Set Variable", {"path": "customer.name", "value": 1}),
            ],
            [edge("t", "mail"), edge("mail", "wait"), edge("wait", "set")],
        )
    )

    found = {(p.node_id, p.field) for p in problems if p.code == "config_invalid"}
    assert ("mail", "to") in found
    assert ("mail", "cc") in found
    assert ("set", "path") in found
    assert any(p.node_id == "wait" for p in problems if p.code == "config_invalid")


def test_unknown_config_fields_are_refused_but_builder_notes_are_not():
    problems = validate_workflow(
        definition(
            [
                T,
                node(
                    "r",
                    "action",
                    "Send Reply",
                    {"message": "x", "mesage": "typo", "description": "why"},
                ),
            ],
            [edge("t", "r")],
        )
    )

    assert [(p.code, p.field) for p in problems] == [("config_invalid", "mesage")]


def test_dangling_edges_name_the_node_they_hang_from():
    problems = validate_workflow(definition([T, REPLY], [edge("t", "r"), edge("r", "ghost")]))

    assert codes(problems) == [("dangling_edge", "r", Severity.ERROR)]
    assert problems[0].edge_id


def test_a_workflow_without_trigger_cannot_start():
    problems = validate_workflow(definition([REPLY], []))

    assert ("no_trigger", None, Severity.ERROR) in codes(problems)


def test_unreachable_nodes_are_a_warning_but_configuration_nodes_are_not():
    kb = node("kb", "configuration", "Knowledge Base", {"documentIds": ["d"]})
    problems = validate_workflow(definition([T, REPLY, kb], []))

    assert codes(problems) == [("unreachable", "r", Severity.WARNING)]


def test_a_condition_needs_both_branches_unless_it_declares_a_default():
    condition = {"condition": {"left": "trigger.text", "operator": "exists"}}
    one_branch = definition(
        [T, node("c", "condition", "Has text?", condition), REPLY],
        [edge("t", "c"), edge("c", "r", "yes")],
    )

    assert codes(validate_workflow(one_branch)) == [("missing_branch", "c", Severity.ERROR)]

    one_branch["nodes"][1]["config"]["default"] = "no"
    assert validate_workflow(one_branch) == []


def test_a_condition_edge_with_an_unknown_label_is_an_error():
    condition = {"condition": {"left": "trigger.text", "operator": "exists"}}
    problems = validate_workflow(
        definition(
            [T, node("c", "condition", "?", condition), REPLY],
            [edge("t", "c"), edge("c", "r", "yes"), edge("c", "r", "maybe")],
        )
    )

    assert ("unknown_port", "c", Severity.ERROR) in codes(problems)
    assert ("missing_branch", "c", Severity.ERROR) in codes(problems)


def test_a_cycle_that_is_not_a_loop_is_an_error():
    a = node("a", "action", "Set Variable", {"path": "workflow.n", "operation": "increment"})
    b = node("b", "action", "Set Variable", {"path": "workflow.m", "value": 1})
    problems = validate_workflow(
        definition([T, a, b], [edge("t", "a"), edge("a", "b"), edge("b", "a")])
    )

    [problem] = problems
    assert problem.code == "unbounded_cycle"
    assert problem.node_id in {"a", "b"}


def test_a_cycle_through_a_loop_body_is_fine_but_a_loop_needs_an_exit():
    loop = node("loop", "logic", "Loop", {"type": "count", "count": 3})
    body = node("b", "action", "Set Variable", {"path": "workflow.n", "operation": "increment"})
    problems = validate_workflow(
        definition(
            [T, loop, body], [edge("t", "loop"), edge("loop", "b", "body"), edge("b", "loop")]
        )
    )

    assert codes(problems) == [("loop_without_exit", "loop", Severity.ERROR)]


def test_a_cycle_back_through_a_loops_done_edge_is_unbounded():
    loop = node("loop", "logic", "Loop", {"type": "count", "count": 3})
    after = node("after", "action", "Set Variable", {"path": "workflow.n", "value": 1})
    problems = validate_workflow(
        definition(
            [T, loop, after],
            [edge("t", "loop"), edge("loop", "after", "done"), edge("after", "loop")],
        )
    )

    assert "unbounded_cycle" in [p.code for p in problems]


def test_reading_a_workflow_variable_nobody_sets_is_a_warning():
    reply = node(
        "r", "action", "Send Reply", {"message": "{{workflow.order.name}} {{workflow.greeting}}"}
    )
    greet = node("g", "action", "Set Variable", {"path": "workflow.greeting", "value": "hi"})
    problems = validate_workflow(definition([T, greet, reply], [edge("t", "g"), edge("g", "r")]))

    assert codes(problems) == [("unproduced_variable", "r", Severity.WARNING)]
    assert "workflow.order.name" in problems[0].message


def test_a_variable_set_only_downstream_does_not_count():
    reply = node("r", "action", "Send Reply", {"message": "{{workflow.greeting}}"})
    greet = node("g", "action", "Set Variable", {"path": "workflow.greeting", "value": "hi"})
    problems = validate_workflow(definition([T, reply, greet], [edge("t", "r"), edge("r", "g")]))

    assert codes(problems) == [("unproduced_variable", "r", Severity.WARNING)]


def test_a_path_outside_every_scope_is_a_warning():
    reply = node("r", "action", "Send Reply", {"message": "{{custmer.name}}"})
    problems = validate_workflow(definition([T, reply], [edge("t", "r")]))

    assert codes(problems) == [("unknown_variable", "r", Severity.WARNING)]


def test_every_problem_is_reported_at_once():
    problems = validate_workflow(
        definition(
            [T, node("x", "action", "Nope"), node("r", "action", "Send Reply", {"channel": 5})],
            [edge("t", "x"), edge("x", "ghost"), edge("t", "r")],
        )
    )

    assert {p.code for p in problems} >= {"unknown_kind", "dangling_edge", "config_invalid"}


def test_compile_refuses_an_invalid_workflow_with_every_error():
    with pytest.raises(WorkflowInvalid) as raised:
        compile_workflow(definition([node("x", "action", "Nope")], []))

    assert {p.code for p in raised.value.errors} == {"unknown_kind", "no_trigger"}


@pytest.mark.parametrize(
    "garbage", [None, [], "x", {"nodes": "x"}, {"nodes": [1, {"id": 3}], "edges": [None, {}]}]
)
def test_garbage_is_reported_not_raised(garbage):
    problems = validate_workflow(garbage)

    assert any(p.severity is Severity.ERROR for p in problems)


@pytest.mark.parametrize(
    "name",
    [
        "bulk-order-notify",
        "negative-sentiment-escalation",
        "order-status-bot",
        "refund-request",
        "sla-breach-follow-up",
    ],
)
def test_the_builder_examples_validate_cleanly(name):
    workflow = json.loads((EXAMPLES / name / "workflow.json").read_text())

    assert validate_workflow(workflow) == []
