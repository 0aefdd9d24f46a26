"""Random graphs through validation: it never crashes, and every error names a node."""

import pytest
from executor.domain.interpreter import WorkflowInvalid, compile_workflow
from executor.domain.nodes.registry import CATALOGUE
from executor.domain.validation import Severity, validate_workflow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORKFLOW_WIDE = {"no_trigger", "no_nodes", "not_a_workflow", "edges_invalid"}
LABELS = [*sorted({label for kind in CATALOGUE for label in kind.labels}), "Mystery", ""]
TYPES = ["trigger", "action", "logic", "condition", "integration", "advanced", "configuration", "x"]
EDGE_LABELS = [None, "", "yes", "no", "TRUE", "body", "done", "error", "try", "catch", "a", "zzz"]

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
config_values = st.recursive(
    json_leaf
    | st.sampled_from(["{{workflow.x}}", "{{trigger.items}}", "workflow.x", "PT1H", "forEach"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
config_keys = st.sampled_from(
    [
        "message",
        "path",
        "value",
        "operation",
        "type",
        "arrayPath",
        "count",
        "condition",
        "variants",
        "duration",
        "until",
        "action",
        "outputVariable",
        "mode",
        "tags",
        "to",
        "subject",
        "queue",
        "default",
        "junk",
    ]
)


@st.composite
def graphs(draw):
    ids = draw(
        st.lists(
            st.text(alphabet="abcdefgh", min_size=1, max_size=2),
            min_size=0,
            max_size=10,
            unique=True,
        )
    )
    nodes = [
        {
            "id": node_id,
            "type": draw(st.sampled_from(TYPES)),
            "label": draw(st.sampled_from(LABELS)),
            "config": draw(st.dictionaries(config_keys, config_values, max_size=4)),
        }
        for node_id in ids
    ]
    endpoints = st.sampled_from([*ids, "ghost"]) if ids else st.just("ghost")
    edges = [
        {
            "id": f"e{i}",
            "source": draw(endpoints),
            "target": draw(endpoints),
            "label": draw(st.sampled_from(EDGE_LABELS)),
        }
        for i in range(draw(st.integers(0, 14)))
    ]
    return {
        "name": "random",
        "triggerType": draw(st.sampled_from(["Incoming Message", "New Order", ""])),
        "nodes": nodes,
        "edges": edges,
    }


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_validation_never_crashes_and_every_error_names_a_node(definition):
    problems = validate_workflow(definition)

    node_ids = {node["id"] for node in definition["nodes"]}
    for problem in problems:
        if problem.severity is Severity.ERROR and problem.code not in WORKFLOW_WIDE:
            # An edge between two nodes that do not exist can only be named by its id.
            orphan_edge = problem.code == "dangling_edge" and problem.edge_id is not None
            assert problem.node_id in node_ids or orphan_edge, problem
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        with pytest.raises(WorkflowInvalid) as raised:
            compile_workflow(definition)
        assert raised.value.errors == errors
    else:
        compile_workflow(definition)
