"""Connecting a tenant's integrations: modes, validation, no credentials stored."""

from __future__ import annotations

import pytest


def test_connect_list_and_disconnect(gw) -> None:
    http = {"mode": "http", "base_url": "http://127.0.0.1:9000/", "timeout_seconds": 5}
    put = gw.client.put("/v1/integrations/shopify", json=http, headers=gw.as_tenant())
    assert put.status_code == 200, put.text
    assert put.json()["base_url"] == "http://127.0.0.1:9000"  # no trailing slash
    gw.client.put("/v1/integrations/stripe", json={"mode": "echo"}, headers=gw.as_tenant())
    listed = gw.client.get("/v1/integrations", headers=gw.as_tenant()).json()
    assert {(c["type"], c["mode"]) for c in listed["integrations"]} == {
        ("shopify", "http"),
        ("stripe", "echo"),
    }
    assert (
        gw.client.get("/v1/integrations", headers=gw.as_tenant("key-b")).json()["integrations"]
        == []
    )
    assert gw.client.delete("/v1/integrations/stripe", headers=gw.as_tenant()).status_code == 204
    assert gw.client.delete("/v1/integrations/stripe", headers=gw.as_tenant()).status_code == 404
    assert gw.client.get("/v1/integrations/stripe", headers=gw.as_tenant()).status_code == 404


def test_unknown_integration_is_404_naming_the_known_ones(gw) -> None:
    response = gw.client.put("/v1/integrations/fax", json={"mode": "echo"}, headers=gw.as_tenant())
    assert response.status_code == 404
    assert "shopify" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "http"},
        {"mode": "http", "base_url": "ftp://example.com"},
        {"mode": "http", "base_url": "http://user:secret@example.com"},
        {"mode": "http", "base_url": "http://example.com/?token=secret"},
        {"mode": "http", "base_url": "http://example.com", "timeout_seconds": 0},
        {"mode": "echo", "api_key": "secret"},
        {"mode": "carrier-pigeon"},
    ],
)
def test_bad_connections_are_422_and_nothing_is_stored(gw, body) -> None:
    response = gw.client.put("/v1/integrations/shopify", json=body, headers=gw.as_tenant())
    assert response.status_code == 422, response.text
    assert gw.connections.docs == {}
    assert "secret" not in str(gw.connections.docs)
