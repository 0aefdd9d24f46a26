"""The spec's integration cases: a linear workflow and a conditional branch."""

TRIGGER = ("n1", "trigger", "Incoming Message", {})


def path(report: dict) -> list[str]:
    return [entry["node_id"] for entry in report["executed"]]


async def test_linear_workflow_runs_every_node_and_completes(run, workflow):
    definition = workflow(
        [
            TRIGGER,
            ("n2", "action", "Set Variable", {"path": "workflow.result", "value": "success"}),
            ("n3", "action", "Send Reply", {"message": "Done! {{workflow.result}}"}),
        ],
        [("n1", "n2"), ("n2", "n3")],
    )

    report = await run(definition)

    assert report["status"] == "completed"
    assert path(report) == ["n1", "n2", "n3"]
    assert report["variables"]["workflow"] == {"result": "success"}
    assert report["effects"][0]["request"]["message"] == "Done! success"


def _age_check(workflow) -> dict:
    return workflow(
        [
            TRIGGER,
            (
                "n2",
                "condition",
                "Check Age",
                {"condition": {"left": "customer.age", "operator": ">", "right": "18"}},
            ),
            ("n3", "action", "Add Tag", {"tags": ["adult"]}),
            ("n4", "action", "Add Tag", {"tags": ["minor"]}),
        ],
        [("n1", "n2"), ("n2", "n3", "yes"), ("n2", "n4", "no")],
    )


async def test_condition_takes_the_yes_branch_only(run, workflow):
    report = await run(_age_check(workflow), customer={"age": 25})

    assert path(report) == ["n1", "n2", "n3"]
    assert report["executed"][1]["port"] == "yes"
    assert [effect["request"]["tags"] for effect in report["effects"]] == [["adult"]]


async def test_condition_takes_the_no_branch_only(run, workflow):
    report = await run(_age_check(workflow), customer={"age": 12})

    assert path(report) == ["n1", "n2", "n4"]


async def test_a_missing_value_routes_no_instead_of_failing(run, workflow):
    report = await run(_age_check(workflow), customer={})

    assert report["status"] == "completed"
    assert path(report) == ["n1", "n2", "n4"]


async def test_edge_labels_true_false_in_any_case_route_like_yes_no(run, workflow):
    definition = _age_check(workflow)
    definition["edges"][1]["label"] = "TRUE"
    definition["edges"][2]["label"] = " False "

    report = await run(definition, customer={"age": 40})

    assert path(report) == ["n1", "n2", "n3"]
