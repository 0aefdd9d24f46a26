"""Loops, parallel branches, joins, Try/Catch, error edges and A/B as a user sees them."""

import pytest

T = ("t", "trigger", "Incoming Message", {})


def path(report: dict) -> list[str]:
    return [entry["node_id"] for entry in report["executed"]]


def ports(report: dict, node_id: str) -> list[str | None]:
    return [entry["port"] for entry in report["executed"] if entry["node_id"] == node_id]


def setvar(node_id: str, path_: str, value=None, operation: str = "set") -> tuple:
    config = {"path": path_, "operation": operation}
    if value is not None:
        config["value"] = value
    return (node_id, "action", "Set Variable", config)


def loop(node_id: str = "loop", **config) -> tuple:
    return (node_id, "logic", "Loop", config)


async def test_for_each_runs_the_body_per_item_with_item_and_index(run, workflow):
    definition = workflow(
        [
            T,
            loop(type="forEach", arrayPath="trigger.items"),
            setvar("add", "workflow.seen", "{{workflow.index}}:{{workflow.item.sku}}", "append"),
            setvar("end", "workflow.after", "done"),
        ],
        [("t", "loop"), ("loop", "add", "body"), ("loop", "end", "done")],
    )

    report = await run(definition, {"items": [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}]})

    assert report["status"] == "completed"
    assert path(report) == ["t", "loop", "add", "loop", "add", "loop", "add", "loop", "end"]
    assert ports(report, "loop") == ["body", "body", "body", "done"]
    assert report["variables"]["workflow"]["seen"] == ["0:A", "1:B", "2:C"]


async def test_a_loop_over_an_empty_or_missing_list_goes_straight_to_done(run, workflow):
    definition = workflow(
        [
            T,
            loop(type="forEach", arrayPath="trigger.items"),
            setvar("add", "workflow.n", None, "increment"),
            setvar("end", "workflow.after", "done"),
        ],
        [("t", "loop"), ("loop", "add", "body"), ("add", "loop"), ("loop", "end", "done")],
    )

    for payload in ({"items": []}, {}):
        report = await run(definition, payload)
        assert path(report) == ["t", "loop", "end"]
        assert "n" not in report["variables"]["workflow"]


async def test_count_loop_with_explicit_back_edge_runs_count_times(run, workflow):
    definition = workflow(
        [
            T,
            loop(type="count", count="{{trigger.times}}"),
            setvar("inc", "workflow.n", None, "increment"),
            setvar("end", "workflow.after", "done"),
        ],
        [("t", "loop"), ("loop", "inc", "body"), ("inc", "loop"), ("loop", "end", "done")],
    )

    report = await run(definition, {"times": 4})

    assert report["variables"]["workflow"]["n"] == 4
    assert path(report)[-1] == "end"


async def test_while_loop_stops_when_its_condition_turns_false(run, workflow):
    definition = workflow(
        [
            T,
            loop(type="while", condition={"left": "workflow.n", "operator": "<", "right": "3"}),
            setvar("inc", "workflow.n", None, "increment"),
            setvar("end", "workflow.after", "done"),
        ],
        [("t", "loop"), ("loop", "inc", "body"), ("loop", "end", "done")],
    )

    report = await run(definition, variables={"workflow": {"n": 0}})

    assert report["variables"]["workflow"]["n"] == 3
    assert ports(report, "loop") == ["body", "body", "body", "done"]


async def test_a_while_loop_that_never_ends_fails_at_its_limit(run, workflow):
    definition = workflow(
        [
            T,
            loop(
                type="while",
                condition={"left": "workflow.go", "operator": "==", "right": "true"},
                maxIterations=50,
            ),
            setvar("inc", "workflow.n", None, "increment"),
            setvar("end", "workflow.after", "done"),
        ],
        [("t", "loop"), ("loop", "inc", "body"), ("loop", "end", "done")],
    )

    report = await run(definition, variables={"workflow": {"go": True}})

    assert report["status"] == "failed"
    assert report["error"]["node_id"] == "loop"
    assert "50" in report["error"]["message"]
    assert report["variables"]["workflow"]["n"] == 50


async def test_the_tenant_limit_caps_a_loop_below_its_own_max(run, workflow):
    definition = workflow(
        [
            T,
            loop(type="count", count=20, maxIterations=500),
            setvar("inc", "workflow.n", None, "increment"),
            setvar("end", "workflow.after", "done"),
        ],
        [("t", "loop"), ("loop", "inc", "body"), ("loop", "end", "done")],
    )
    from executor.domain.interpreter import advance, compile_workflow, start

    compiled = compile_workflow(definition)
    context = {
        "trigger": {"type": "Incoming Message", "source": {}},
        "resources": {"limits": {"maxLoopIterations": 10}},
    }
    state = start(compiled, context)
    outcome = await advance(compiled, state, now=lambda: None, max_steps=1000)  # type: ignore[arg-type]

    assert outcome.status == "failed"
    assert outcome.error["code"] == "loop_limit"


async def test_break_condition_leaves_the_loop_early(run, workflow):
    definition = workflow(
        [
            T,
            loop(
                type="forEach",
                arrayPath="trigger.items",
                breakCondition={"left": "workflow.item", "operator": "==", "right": "stop"},
            ),
            setvar("add", "workflow.seen", "{{workflow.item}}", "append"),
            setvar("end", "workflow.after", "done"),
        ],
        [("t", "loop"), ("loop", "add", "body"), ("loop", "end", "done")],
    )

    report = await run(definition, {"items": ["a", "b", "stop", "c"]})

    assert report["variables"]["workflow"]["seen"] == ["a", "b"]
    assert report["executed"][-2]["port"] == "done"


async def test_a_condition_inside_a_loop_routes_each_item(run, workflow):
    definition = workflow(
        [
            T,
            loop(type="forEach", arrayPath="trigger.amounts"),
            (
                "big",
                "condition",
                "Big?",
                {"condition": {"left": "workflow.item", "operator": ">", "right": "10"}},
            ),
            setvar("yes", "workflow.big", "{{workflow.item}}", "append"),
            setvar("no", "workflow.small", "{{workflow.item}}", "append"),
            setvar("end", "workflow.after", "done"),
        ],
        [
            ("t", "loop"),
            ("loop", "big", "body"),
            ("big", "yes", "yes"),
            ("big", "no", "no"),
            ("loop", "end", "done"),
        ],
    )

    report = await run(definition, {"amounts": [5, 50, 7, 70]})

    assert report["variables"]["workflow"]["big"] == [50, 70]
    assert report["variables"]["workflow"]["small"] == [5, 7]


async def test_nested_loops_run_the_inner_body_for_every_outer_item(run, workflow):
    definition = workflow(
        [
            T,
            loop("outer", type="forEach", arrayPath="trigger.rows", itemVariable="row"),
            loop(
                "inner",
                type="forEach",
                arrayPath="workflow.row",
                itemVariable="cell",
                indexVariable="col",
            ),
            setvar("cell", "workflow.cells", "{{workflow.cell}}", "append"),
            setvar("end", "workflow.after", "done"),
        ],
        [
            ("t", "outer"),
            ("outer", "inner", "body"),
            ("inner", "cell", "body"),
            ("inner", "outer", "done"),
            ("outer", "end", "done"),
        ],
    )

    report = await run(definition, {"rows": [[1, 2], [], [3]]})

    assert report["status"] == "completed"
    assert report["variables"]["workflow"]["cells"] == [1, 2, 3]
    assert path(report)[-1] == "end"


async def test_unlabeled_edges_fan_out_and_a_join_continues_once(run, workflow):
    definition = workflow(
        [
            T,
            setvar("a", "workflow.a", 1),
            setvar("b", "workflow.b", 2),
            setvar("c", "workflow.c", 3),
            ("join", "advanced", "Join", {"mode": "all"}),
            setvar("sum", "workflow.sum", "{{workflow.a}}{{workflow.b}}{{workflow.c}}"),
        ],
        [
            ("t", "a"),
            ("t", "b"),
            ("t", "c"),
            ("a", "join"),
            ("b", "join"),
            ("c", "join"),
            ("join", "sum"),
        ],
    )

    report = await run(definition)

    assert report["status"] == "completed"
    assert path(report).count("sum") == 1
    assert path(report).index("sum") > max(path(report).index(x) for x in "abc")
    assert report["variables"]["workflow"]["sum"] == "123"
    assert ports(report, "join") == [None, None, "out"]


async def test_join_any_continues_with_the_first_arrival(run, workflow):
    definition = workflow(
        [
            T,
            setvar("a", "workflow.a", 1),
            setvar("b", "workflow.b", 2),
            ("join", "advanced", "Join", {"mode": "any"}),
            setvar("after", "workflow.n", None, "increment"),
        ],
        [("t", "a"), ("t", "b"), ("a", "join"), ("b", "join"), ("join", "after")],
    )

    report = await run(definition)

    assert report["variables"]["workflow"]["n"] == 1
    assert ports(report, "join") == ["out", None]


async def test_parallel_branches_joined_inside_a_loop_join_per_iteration(run, workflow):
    definition = workflow(
        [
            T,
            loop(type="count", count=3),
            setvar("a", "workflow.a", None, "increment"),
            setvar("b", "workflow.b", None, "increment"),
            ("join", "advanced", "Join", {}),
            setvar("joined", "workflow.joined", None, "increment"),
            setvar("end", "workflow.after", "done"),
        ],
        [
            ("t", "loop"),
            ("loop", "a", "body"),
            ("loop", "b", "body"),
            ("a", "join"),
            ("b", "join"),
            ("join", "joined"),
            ("loop", "end", "done"),
        ],
    )

    report = await run(definition)

    assert report["variables"]["workflow"] == {
        "a": 3,
        "b": 3,
        "joined": 3,
        "index": 2,
        "item": 2,
        "after": "done",
    }


async def test_an_error_edge_catches_a_failing_node(run, workflow):
    definition = workflow(
        [
            T,
            ("shop", "integration", "Shopify", {"action": "getOrder", "orderId": "1"}),
            setvar("ok", "workflow.ok", True),
            setvar("handled", "workflow.handled", "{{workflow.error.message}}"),
        ],
        [("t", "shop"), ("shop", "ok"), ("shop", "handled", "error")],
    )

    report = await run(definition, mocks={"shop": {"$error": {"message": "rate limited"}}})

    assert report["status"] == "completed"
    assert path(report) == ["t", "shop", "handled"]
    assert ports(report, "shop") == ["error"]
    assert report["variables"]["workflow"]["handled"] == "rate limited"


async def test_try_catch_cancels_the_try_branch_and_runs_catch(run, workflow):
    definition = workflow(
        [
            T,
            ("try", "advanced", "Try/Catch", {}),
            ("shop", "integration", "Shopify", {"action": "getOrder", "orderId": "1"}),
            setvar("after", "workflow.after", "not reached"),
            setvar(
                "caught", "workflow.caught", "{{workflow.error.nodeId}}: {{workflow.error.message}}"
            ),
        ],
        [("t", "try"), ("try", "shop", "try"), ("shop", "after"), ("try", "caught", "catch")],
    )

    report = await run(definition, mocks={"shop": {"$error": {"message": "boom"}}})

    assert report["status"] == "completed"
    assert path(report) == ["t", "try", "shop", "try", "caught"]
    assert ports(report, "try") == ["try", "catch"]
    assert report["variables"]["workflow"]["caught"] == "shop: boom"


async def test_try_branch_that_succeeds_does_not_run_catch(run, workflow):
    definition = workflow(
        [
            T,
            ("try", "advanced", "Try/Catch", {}),
            setvar("ok", "workflow.ok", True),
            setvar("caught", "workflow.caught", True),
        ],
        [("t", "try"), ("try", "ok"), ("try", "caught", "catch")],
    )

    report = await run(definition)

    assert path(report) == ["t", "try", "ok"]
    assert report["status"] == "completed"


async def test_a_failure_inside_a_loop_inside_try_is_caught_and_stops_the_loop(run, workflow):
    definition = workflow(
        [
            T,
            ("try", "advanced", "Try/Catch", {"errorVariable": "problem"}),
            loop(type="forEach", arrayPath="trigger.items"),
            setvar("inc", "workflow.total", "{{workflow.item}}", "increment"),
            setvar("end", "workflow.after", "done"),
            setvar("caught", "workflow.caught", "{{workflow.problem.message}}"),
        ],
        [
            ("t", "try"),
            ("try", "loop", "try"),
            ("loop", "inc", "body"),
            ("loop", "end", "done"),
            ("try", "caught", "catch"),
        ],
    )

    report = await run(definition, {"items": [1, 2, "x", 4]})

    assert report["status"] == "completed"
    assert report["variables"]["workflow"]["total"] == 3
    assert "not a number" in report["variables"]["workflow"]["caught"]
    assert "end" not in path(report)


async def test_ab_split_is_sticky_and_recorded(run, workflow):
    definition = workflow(
        [
            T,
            (
                "ab",
                "logic",
                "A/B Split",
                {"variants": [{"name": "A", "weight": 50}, {"name": "B", "weight": 50}]},
            ),
            setvar("a", "workflow.got", "A"),
            setvar("b", "workflow.got", "B"),
        ],
        [("t", "ab"), ("ab", "a", "a"), ("ab", "b", "B")],
    )

    chosen = set()
    for conversation in range(40):
        first = await run(definition, {"conversationId": f"c{conversation}"})
        again = await run(definition, {"conversationId": f"c{conversation}"})
        assert first["variables"]["workflow"]["got"] == again["variables"]["workflow"]["got"]
        assert first["variables"]["conversation"]["abVariants"] == {
            "ab": first["variables"]["workflow"]["got"]
        }
        chosen.add(first["variables"]["workflow"]["got"])
    assert chosen == {"A", "B"}


async def test_ab_split_keeps_a_variant_remembered_for_the_conversation(run, workflow):
    definition = workflow(
        [
            T,
            (
                "ab",
                "logic",
                "A/B Split",
                {"variants": [{"name": "A", "weight": 0}, {"name": "B", "weight": 1}]},
            ),
            setvar("a", "workflow.got", "A"),
            setvar("b", "workflow.got", "B"),
        ],
        [("t", "ab"), ("ab", "a", "a"), ("ab", "b", "b")],
    )

    report = await run(definition, variables={"conversation": {"abVariants": {"ab": "A"}}})

    assert report["variables"]["workflow"]["got"] == "A"


async def test_ab_split_inside_a_loop_takes_the_same_variant_each_turn(run, workflow):
    definition = workflow(
        [
            T,
            loop(type="count", count=5),
            ("ab", "logic", "A/B Split", {"variants": [{"name": "x"}, {"name": "y"}]}),
            setvar("x", "workflow.x", None, "increment"),
            setvar("y", "workflow.y", None, "increment"),
            setvar("end", "workflow.after", "done"),
        ],
        [
            ("t", "loop"),
            ("loop", "ab", "body"),
            ("ab", "x", "x"),
            ("ab", "y", "y"),
            ("loop", "end", "done"),
        ],
    )

    report = await run(definition, {"conversationId": "c1"})

    counts = {k: v for k, v in report["variables"]["workflow"].items() if k in ("x", "y")}
    assert list(counts.values()) == [5]


def shop_lookup(workflow, retry: dict) -> dict:
    """Trigger -> a Shopify lookup with this retry policy."""
    shop = {"action": "getOrder", "orderId": "1", "outputVariable": "order", "retry": retry}
    return workflow([T, ("shop", "integration", "Shopify", shop)], [("t", "shop")])


@pytest.mark.parametrize(("retries", "status"), [(2, "completed"), (1, "failed")])
async def test_a_retry_policy_reissues_a_failed_effect(run, workflow, retries, status):
    definition = shop_lookup(workflow, {"maxAttempts": retries})

    report = await run(definition, mocks={"shop": [{"$error": {"message": "503"}}, {"id": 1}]})

    assert report["status"] == status
    assert len(report["effects"]) == retries


@pytest.mark.parametrize(
    ("error_type", "effects", "status"),
    [("NotFound", 1, "failed"), ("Unavailable", 2, "completed")],
)
async def test_a_non_retryable_error_type_fails_at_once(run, workflow, error_type, effects, status):
    definition = shop_lookup(workflow, {"maxAttempts": 3, "nonRetryableErrorTypes": ["NotFound"]})
    failure = {"$error": {"type": error_type, "message": "no luck"}}

    report = await run(definition, mocks={"shop": [failure, {"id": 1}]})

    assert report["status"] == status
    assert len(report["effects"]) == effects
