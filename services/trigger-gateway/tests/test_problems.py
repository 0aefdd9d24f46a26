"""Every error is an RFC 9457 problem (application/problem+json: type, title, status, detail,
errors[]), whoever raises it: a route, FastAPI's validation, Starlette's routing; and the
OpenAPI document says so for every operation, with its security."""

from __future__ import annotations

from typing import Any

import pytest
from trigger_gateway.app import create_app

GOOD = {"conversation_id": "conv-1", "channel": "chat", "payload": {"text": "hi"}}


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Bearer not-a-key"}, "unknown API key"),
        ({"X-API-Key": "not-a-key"}, "unknown API key"),
    ],
)
def test_401_is_a_problem_with_www_authenticate(expect_problem, gw, headers, says) -> None:
    problem = expect_problem(gw.client.get("/v1/workflows", headers=headers), 401)
    assert says in problem["detail"]
    assert gw.client.get("/v1/workflows", headers=headers).headers["www-authenticate"] == "Bearer"


def test_admin_routes_answer_401_with_www_authenticate_too(expect_problem, gw) -> None:
    for token in (None, "wrong", "wrong-\u00e9"):  # non-ASCII was a TypeError: 500
        headers = {} if token is None else {"X-Admin-Token": token.encode()}
        response = gw.client.post("/v1/tenants", json={"name": "Acme"}, headers=headers)
        expect_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    response = gw.client.get("/v1/dead-letters", headers={"X-Admin-Token": "wrong"})
    expect_problem(response, 401)


def test_404_of_a_route_and_of_an_unknown_path(expect_problem, gw) -> None:
    problem = expect_problem(gw.client.get("/v1/workflows/wf_nope", headers=gw.as_tenant()), 404)
    assert problem["detail"] == "no workflow wf_nope" and problem["type"] == "about:blank"
    problem = expect_problem(gw.client.get("/v1/nothing-here"), 404)
    assert "/v1/nothing-here" in problem["detail"]


def test_405_keeps_its_allow_header(expect_problem, gw) -> None:
    response = gw.client.delete("/v1/workflows", headers=gw.as_tenant())
    expect_problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_409_is_a_problem(expect_problem, gw) -> None:
    gw.executions.docs["exe_1"] = {"_id": "exe_1", "tenant_id": "ten_a", "status": "completed"}
    problem = expect_problem(
        gw.client.post("/v1/executions/exe_1/retry", headers=gw.as_tenant()), 409
    )
    assert "completed" in problem["detail"]


def test_422_names_each_field(expect_problem, gw) -> None:
    response = gw.client.post(
        "/v1/events/incoming_message",
        json={"conversation_id": "", "payload": "no", "extra": 1},
        headers=gw.as_tenant(),
    )
    problem = expect_problem(response, 422)
    assert problem["type"] == "urn:connectflo:problem:invalid-request"
    assert {e["name"] for e in problem["errors"]} == {
        "body.conversation_id",
        "body.payload",
        "body.extra",
    }
    assert all(e["reason"] for e in problem["errors"])


def test_422_for_malformed_json_and_a_bad_query(expect_problem, gw) -> None:
    response = gw.client.post(
        "/v1/workflows",
        content=b'{"name": ',
        headers={**gw.as_tenant(), "Content-Type": "application/json"},
    )
    assert expect_problem(response, 422)["errors"][0]["name"] == "body"
    response = gw.client.get("/v1/workflows", params={"limit": 0}, headers=gw.as_tenant())
    assert [e["name"] for e in expect_problem(response, 422)["errors"]] == ["query.limit"]


def test_an_invalid_workflow_names_the_node_and_its_config_field(
    expect_problem, gw, builder_json
) -> None:
    bad = builder_json()
    bad["nodes"][1]["label"] = ""
    problem = expect_problem(gw.client.post("/v1/workflows", json=bad, headers=gw.as_tenant()), 422)
    assert problem["type"] == "urn:connectflo:problem:invalid-workflow"
    assert problem["errors"] == [
        {"name": "body.nodes[1]", "reason": "unknown node", "node_id": "r"}
    ]


@pytest.mark.parametrize("version", [True, "2", 1.5, 0, 2**31])
def test_activate_takes_only_a_real_version_number(
    expect_problem, gw, builder_json, version
) -> None:
    created = gw.client.post("/v1/workflows", json=builder_json(), headers=gw.as_tenant())
    wf = created.json()["id"]
    response = gw.client.post(
        f"/v1/workflows/{wf}/activate", json={"version": version}, headers=gw.as_tenant()
    )
    assert [e["name"] for e in expect_problem(response, 422)["errors"]] == ["body.version"]


def test_a_version_beyond_64_bits_in_the_path_is_422_not_500(
    expect_problem, gw, builder_json
) -> None:
    created = gw.client.post("/v1/workflows", json=builder_json(), headers=gw.as_tenant())
    wf = created.json()["id"]
    response = gw.client.get(f"/v1/workflows/{wf}/versions/{2**70}", headers=gw.as_tenant())
    expect_problem(response, 422)


def openapi() -> dict[str, Any]:
    return create_app().openapi()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op) for path, ops in openapi()["paths"].items() for method, op in ops.items()
    ]


def test_every_operation_documents_its_problems_and_security() -> None:
    schema = openapi()
    assert {"BearerApiKey", "ApiKeyHeader", "AdminToken"} <= set(
        schema["components"]["securitySchemes"]
    )
    assert schema["components"]["securitySchemes"]["BearerApiKey"]["scheme"] == "bearer"
    assert "Problem" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for method, path, op in operations():
        where = f"{method.upper()} {path}"
        # a provider's webhook has no API key: the provider's signature is checked (403);
        # nor have the chat widget's public routes: the session's signature is; nor the
        # OAuth callback a person's browser is sent to: its one-time state is (400)
        callback = path == "/oauth/callback"
        webhook = path.startswith(("/webhooks/", "/widget/")) or callback
        assert bool(op.get("security")) is not webhook, where
        refusal = "400" if callback else "403" if webhook else "401"
        for status in (refusal, "422", "503"):
            assert status in op["responses"], (where, status)
        if "requestBody" in op:
            assert "413" in op["responses"], where
        if "{" in path:
            assert "404" in op["responses"], where
        for status, answer in op["responses"].items():
            if int(status) >= 400:
                assert list(answer["content"]) == ["application/problem+json"], (where, status)
        if not webhook:
            assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"]
        assert op["responses"]["503"]["headers"]["Retry-After"]["required"]


def test_activate_takes_a_json_integer_as_json_schema_counts_them(gw, builder_json) -> None:
    created = gw.client.post("/v1/workflows", json=builder_json(), headers=gw.as_tenant())
    wf = created.json()["id"]
    for version in (1, 1.0):
        response = gw.client.post(
            f"/v1/workflows/{wf}/activate", json={"version": version}, headers=gw.as_tenant()
        )
        assert response.status_code == 200 and response.json()["active_version"] == 1
