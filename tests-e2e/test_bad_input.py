"""Bad input gets a clear error naming what is wrong."""

from __future__ import annotations

import pytest
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e


async def test_malformed_trigger_body_is_422_naming_the_field(stack, http, tenant) -> None:
    response = await http.post(
        "/v1/events/incoming_message", json={"payload": "not an object"}, headers=tenant.headers
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(error["loc"][-1] == "payload" for error in detail), detail


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
    detail = response.json()["detail"]
    assert "fax1" in detail["message"] and "Send Fax" in detail["message"]
    assert any(p["node_id"] == "fax1" for p in detail["problems"])


async def test_workflow_missing_a_field_is_422(stack, http, tenant) -> None:
    workflow = greeting_workflow()
    del workflow["triggerType"]
    response = await http.post("/v1/workflows", json=workflow, headers=tenant.headers)
    assert response.status_code == 422
    assert "triggerType" in response.text
