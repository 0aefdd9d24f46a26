"""POST /v1/workflows/preview: forwarded to the executor (faked: conftest.stub_preview), its
report answered as it is, its problems passed on; nothing is stored or published."""

from __future__ import annotations

from typing import Any


def asked(builder_json: Any, trigger: str = "Incoming Message", **more: Any) -> dict[str, Any]:
    return {"definition": builder_json(), "trigger": {"type": trigger, "payload": {}}, **more}


def test_the_executors_report_is_the_answer_and_nothing_is_kept(gw, builder_json) -> None:
    body = asked(
        builder_json,
        customer={"name": "Ada"},
        variables={"conversation": {"tier": "gold"}},
        mocks={"r": [{"sent": True}]},
    )
    response = gw.client.post("/v1/workflows/preview", json=body, headers=gw.as_tenant())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["status"] == "completed" and report["error"] is None
    # the executor received what the builder sent, no defaults added
    assert report["variables"]["workflow"]["asked"] == body
    assert gw.broker.published == [] and gw.workflows.workflows == {}


def test_without_the_tenants_key_it_is_401(gw, builder_json) -> None:
    response = gw.client.post("/v1/workflows/preview", json=asked(builder_json))
    assert response.status_code == 401
    bad = gw.client.post(
        "/v1/workflows/preview", json=asked(builder_json), headers=gw.as_tenant("nope")
    )
    assert bad.status_code == 401


def test_a_malformed_body_is_422_naming_the_field(gw, builder_json, expect_problem) -> None:
    for body, name in (
        ({"trigger": {"type": "Incoming Message"}}, "body.definition"),
        ({**asked(builder_json), "trigger": {"payload": {}}}, "body.trigger.type"),
        ({**asked(builder_json), "mocks": {"r": {"not": "a list"}}}, "body.mocks.r"),
        ({**asked(builder_json), "variables": {"tenant": {}}}, "body.variables"),
        ({**asked(builder_json), "extra": 1}, "body.extra"),
    ):
        response = gw.client.post("/v1/workflows/preview", json=body, headers=gw.as_tenant())
        problem = expect_problem(response, 422)
        assert any(e["name"].startswith(name) for e in problem["errors"]), problem
    text = gw.client.post(
        "/v1/workflows/preview",
        content=b"{oops",
        headers={**gw.as_tenant(), "content-type": "application/json"},
    )
    expect_problem(text, 422)


def test_the_executors_limit_problem_is_passed_on(gw, builder_json, expect_problem) -> None:
    response = gw.client.post(
        "/v1/workflows/preview", json=asked(builder_json, "Slow"), headers=gw.as_tenant()
    )
    problem = expect_problem(response, 422)
    assert problem["type"] == "urn:connectflo:problem:preview-timeout"
    assert "5 s" in problem["detail"]


def test_an_executor_that_does_not_answer_is_503(gw, builder_json, expect_problem) -> None:
    for trigger in ("Unreachable", "Broken"):
        response = gw.client.post(
            "/v1/workflows/preview", json=asked(builder_json, trigger), headers=gw.as_tenant()
        )
        problem = expect_problem(response, 503)
        assert "preview unavailable" in problem["detail"]
        assert response.headers["retry-after"]


def test_the_route_is_in_the_openapi_document(gw) -> None:
    operation = gw.client.get("/openapi.json").json()["paths"]["/v1/workflows/preview"]["post"]
    assert set(operation["responses"]) >= {"200", "401", "413", "422", "503"}
    assert "PreviewReport" in str(operation["responses"]["200"])


def test_its_other_methods_are_405_allowing_post_only(gw, expect_problem) -> None:
    for method in ("GET", "PUT", "DELETE", "OPTIONS"):
        response = gw.client.request(method, "/v1/workflows/preview", headers=gw.as_tenant())
        expect_problem(response, 405)
        assert response.headers["allow"] == "POST"
