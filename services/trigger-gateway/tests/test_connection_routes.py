"""A tenant's connections: several per type, validated per type, credentials sealed and never
answered, one default per type, names unique, workflows assigned their connections, and the
"check connection" asked of the integrations service."""

from __future__ import annotations

import json

import pytest
from contracts.connections import credentials_purpose
from servicekit.sealing import Sealed

STRIPE = {"type": "stripe", "name": "Live", "credentials": {"api_key": "sk_live_canary123"}}
SHOP = {
    "type": "shopify",
    "name": "Main shop",
    "config": {"shop": "acme.myshopify.com"},
    "credentials": {"access_token": "shpat_canary456"},
}


def create(gw, body, key: str = "key-a"):
    response = gw.client.post("/v1/connections", json=body, headers=gw.as_tenant(key))
    assert response.status_code == 201, response.text
    return response.json()


def test_credentials_are_sealed_for_the_connection_and_never_answered(gw) -> None:
    made = create(gw, STRIPE)
    assert made["status"] == "connected" and made["mode"] == "provider"
    assert made["credentials"]["fields"] == ["api_key"]
    assert len(made["credentials"]["fingerprint"]) == 8
    stored = gw.connections.docs[made["id"]]
    assert "sk_live_canary123" not in str(stored)
    opened = gw.keyring.open(
        Sealed.from_document(stored["credentials"]),
        tenant_id="ten_a",
        purpose=credentials_purpose(made["id"]),
    )
    assert json.loads(opened.reveal()) == {"api_key": "sk_live_canary123"}
    for answer in (
        gw.client.get(f"/v1/connections/{made['id']}", headers=gw.as_tenant()).text,
        gw.client.get("/v1/connections", headers=gw.as_tenant()).text,
    ):
        assert "canary" not in answer and made["credentials"]["fingerprint"] in answer


def test_several_per_type_one_default_and_names_unique(gw, expect_problem) -> None:
    first = create(gw, {**STRIPE, "is_default": True})
    second = create(gw, {**STRIPE, "name": "EU", "is_default": True})
    listed = gw.client.get("/v1/connections?type=stripe", headers=gw.as_tenant()).json()
    defaults = {c["name"]: c["is_default"] for c in listed["connections"]}
    assert defaults == {"EU": True, "Live": False}
    assert {t["type"] for t in listed["types"]} >= {"stripe", "postgres", "odoo"}
    problem = expect_problem(
        gw.client.post("/v1/connections", json=STRIPE, headers=gw.as_tenant()), 409
    )
    assert problem["errors"][0]["name"] == "body.name"
    renamed = gw.client.patch(
        f"/v1/connections/{first['id']}",
        json={"type": "stripe", "name": "EU"},
        headers=gw.as_tenant(),
    )
    expect_problem(renamed, 409)
    # another tenant may use the same name and sees none of these
    create(gw, STRIPE, key="key-b")
    assert (
        len(gw.client.get("/v1/connections", headers=gw.as_tenant("key-b")).json()["connections"])
        == 1
    )
    assert (
        gw.client.get(f"/v1/connections/{second['id']}", headers=gw.as_tenant("key-b")).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({"type": "shopify", "name": "x"}, "body.shopify"),  # provider mode needs the shop
        ({**SHOP, "config": {"shop": "evil.example.com"}}, "body.shopify.config.shop"),
        ({**SHOP, "credentials": {"api_key": "secret-value-1"}}, "body.shopify.credentials"),
        ({"type": "fax", "name": "x"}, "body"),  # the detail names the types
        ({"type": "stripe", "name": "x", "mode": "http"}, "body.stripe"),
        (
            {"type": "stripe", "name": "x", "config": {"base_url": "http://u:secret@h.example"}},
            "body.stripe.config.base_url",
        ),
        ({**STRIPE, "limits": {"rate": 0}}, "body.stripe.limits.rate"),
        ({**STRIPE, "name": ""}, "body.stripe.name"),
    ],
)
def test_a_bad_connection_is_422_naming_the_field_and_nothing_is_stored(
    gw, expect_problem, body, name
) -> None:
    problem = expect_problem(
        gw.client.post("/v1/connections", json=body, headers=gw.as_tenant()), 422
    )
    assert any(e["name"].startswith(name) for e in problem["errors"]), problem
    assert gw.connections.docs == {}
    assert "secret" not in json.dumps(problem)


def test_echo_and_http_modes_need_no_credentials(gw) -> None:
    echo = create(gw, {"type": "shopify", "name": "Try", "mode": "echo"})
    http = create(
        gw,
        {
            "type": "shopify",
            "name": "Own",
            "mode": "http",
            "config": {"shop": "acme.myshopify.com", "base_url": "http://127.0.0.1:9000/"},
        },
    )
    assert echo["status"] == http["status"] == "connected"
    assert http["config"]["base_url"] == "http://127.0.0.1:9000"
    pending = create(gw, {**SHOP, "name": "OAuth later", "credentials": None})
    assert pending["status"] == "pending" and pending["credentials"] is None


def test_a_patch_replaces_credentials_and_disables(gw, expect_problem) -> None:
    made = create(gw, SHOP)
    url = f"/v1/connections/{made['id']}"
    gw.connections.docs[made["id"]] |= {"status": "broken", "broken_reason": "token revoked"}
    changed = gw.client.patch(
        url,
        json={"type": "shopify", "credentials": {"access_token": "shpat_new_token"}},
        headers=gw.as_tenant(),
    ).json()
    assert changed["credentials"]["fingerprint"] != made["credentials"]["fingerprint"]
    assert changed["status"] == "connected" and changed["broken_reason"] is None
    assert changed["config"] == made["config"]
    off = gw.client.patch(
        url, json={"type": "shopify", "is_active": False}, headers=gw.as_tenant()
    ).json()
    assert off["is_active"] is False and off["credentials"] == changed["credentials"]
    expect_problem(gw.client.patch(url, json={"type": "stripe"}, headers=gw.as_tenant()), 409)
    expect_problem(
        gw.client.patch(url, json={"type": "shopify", "mode": "http"}, headers=gw.as_tenant()),
        422,
    )
    assert gw.client.delete(url, headers=gw.as_tenant()).status_code == 204
    assert gw.client.delete(url, headers=gw.as_tenant()).status_code == 404


def test_check_asks_the_integrations_service_and_records_the_outcome(gw, expect_problem) -> None:
    made = create(gw, STRIPE)
    url = f"/v1/connections/{made['id']}/check"
    checked = gw.client.post(url, headers=gw.as_tenant()).json()
    assert checked["ok"] is True and checked["result"] == {"account": "acct_1"}
    assert gw.integrations.asked == [f"/internal/tenants/ten_a/connections/{made['id']}/check"]
    gw.integrations.answer = {
        "ok": False,
        "result": None,
        "error": {"type": "Unauthorized", "message": "Invalid API Key provided"},
    }
    refused = gw.client.post(url, headers=gw.as_tenant()).json()
    assert refused["ok"] is False and refused["error"]["type"] == "Unauthorized"
    shown = gw.client.get(f"/v1/connections/{made['id']}", headers=gw.as_tenant()).json()
    assert shown["last_check"]["ok"] is False
    gw.integrations.status = 0
    expect_problem(gw.client.post(url, headers=gw.as_tenant()), 503)
    expect_problem(
        gw.client.post("/v1/connections/con_0000000000000000/check", headers=gw.as_tenant()), 404
    )


def test_a_workflow_is_assigned_connections_of_the_tenant_by_id_or_name(
    gw, expect_problem, builder_json
) -> None:
    workflow = gw.client.post("/v1/workflows", json=builder_json(), headers=gw.as_tenant()).json()
    url = f"/v1/workflows/{workflow['id']}/connections"
    stripe, shop = create(gw, STRIPE), create(gw, SHOP)
    other = create(gw, {**STRIPE, "name": "Theirs"}, key="key-b")
    put = gw.client.put(
        url, json={"connections": {"stripe": "Live", "shopify": shop["id"]}}, headers=gw.as_tenant()
    )
    assert put.json() == {"connections": {"stripe": stripe["id"], "shopify": shop["id"]}}
    assert gw.client.get(url, headers=gw.as_tenant()).json() == put.json()
    for wrong in ({"stripe": other["id"]}, {"stripe": shop["id"]}, {"fax": "Live"}):
        expect_problem(gw.client.put(url, json={"connections": wrong}, headers=gw.as_tenant()), 409)
    gw.client.delete(f"/v1/connections/{stripe['id']}", headers=gw.as_tenant())
    assert gw.client.get(url, headers=gw.as_tenant()).json() == {
        "connections": {"shopify": shop["id"]}
    }
    expect_problem(gw.client.get("/v1/workflows/nope/connections", headers=gw.as_tenant()), 404)
