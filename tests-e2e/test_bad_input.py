"""Bad input gets a clear error naming what is wrong: an RFC 9457 problem, never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e


async def test_malformed_trigger_body_is_422_naming_the_field(stack, http, tenant) -> None:
    response = await http.post(
        "/v1/events/incoming_message", json={"payload": "not an object"}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [e["name"] for e in errors] == ["body.payload"], errors


async def test_missing_payload_is_422_naming_the_field(stack, http, tenant) -> None:
    response = await http.post(
        "/v1/events/incoming_message", json={"channel": "chat"}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert "payload" in response.text


async def test_unknown_api_key_is_401(stack, http) -> None:
    response = await http.post(
        "/v1/events/incoming_message",
        json={"payload": {}},
        headers={"Authorization": "Bearer cfk_not-a-key"},
    )
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_api_key_is_401(stack, http) -> None:
    response = await http.post("/v1/events/incoming_message", json={"payload": {}})
    assert response.status_code == 401


async def test_unknown_trigger_type_is_404_listing_known_ones(stack, http, tenant) -> None:
    response = await http.post(
        "/v1/events/incoming_fax", json={"payload": {}}, headers=tenant.headers
    )
    assert response.status_code == 404
    assert "incoming_message" in response.json()["detail"]


async def test_workflow_with_unknown_node_is_refused_naming_the_node(stack, http, tenant) -> None:
    workflow = greeting_workflow()
    workflow["nodes"].append({"id": "fax1", "type": "action", "label": "Send Fax", "config": {}})
    workflow["edges"].append({"id": "e3", "source": "reply", "target": "fax1"})
    response = await http.post("/v1/workflows", json=workflow, headers=tenant.headers)
    assert response.status_code == 422
    problem = response.json()
    assert "fax1" in problem["detail"] and "Send Fax" in problem["detail"]
    index = [n["id"] for n in workflow["nodes"]].index("fax1")
    assert {"name": f"body.nodes[{index}]", "node_id": "fax1"}.items() <= problem["errors"][
        0
    ].items()


async def test_workflow_missing_a_field_is_422(stack, http, tenant) -> None:
    workflow = greeting_workflow()
    del workflow["triggerType"]
    response = await http.post("/v1/workflows", json=workflow, headers=tenant.headers)
    assert response.status_code == 422
    assert "triggerType" in response.text


async def test_a_20_mb_trigger_is_413_naming_the_limit(stack, http, tenant) -> None:
    body = json.dumps({"payload": {"text": "x" * (20 << 20)}}).encode()
    for chunked in (False, True):
        content: bytes | AsyncIterator[bytes] = _chunks(body) if chunked else body
        response = await http.post(
            "/v1/events/incoming_message",
            content=content,
            headers={**tenant.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 413, response.text[:300]
        assert response.headers["content-type"] == "application/problem+json"
        assert "1048576 bytes" in response.json()["detail"]


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 1 << 16):
        yield body[start : start + (1 << 16)]


async def test_a_nul_in_a_query_is_422_and_never_reaches_the_database(stack, http, tenant) -> None:
    # FerretDB's PostgreSQL storage refuses NUL: this answered 500 before
    for params in ({"trigger_id": "a\x00b"}, {"cursor": "\x00"}):
        response = await http.get("/v1/executions", params=params, headers=tenant.headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["name"].startswith("query.")
    response = await http.get("/v1/workflows/wf%00x", headers=tenant.headers)
    assert response.status_code == 422 and response.json()["errors"][0]["name"] == "path"
