"""Odoo's external JSON-RPC API in the sandbox over real HTTP, called as Odoo's documentation
calls it: authenticate, execute_kw with search_read (domains), read, create, write; Odoo's
error shape and exceptions; a rate-limited database's 429."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

PASSWORD = "odoo-api-key-1"
_ids = itertools.count(1)


@pytest.fixture
def odoo(sandbox_server) -> httpx.Client:
    with httpx.Client(base_url=sandbox_server.url) as http:
        assert http.delete("/sandbox/odoo").status_code == 200
        made = http.post(
            "/sandbox/odoo/databases",
            json={"name": "acme", "password": PASSWORD, "read_only_login": "viewer"},
        )
        assert made.status_code == 201, made.text
        yield http


def rpc(http: httpx.Client, service: str, method: str, *args: Any) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": service, "method": method, "args": list(args)},
        "id": next(_ids),
    }
    answer = http.post("/jsonrpc", json=body)
    assert answer.status_code == 200, answer.text
    reply: dict[str, Any] = answer.json()
    assert reply["jsonrpc"] == "2.0" and reply["id"] == body["id"]
    return reply


def execute(http: httpx.Client, uid: int, model: str, method: str, args: list, kwargs=None):
    return rpc(
        http, "object", "execute_kw", "acme", uid, PASSWORD, model, method, args, kwargs or {}
    )


def test_authenticate_answers_the_uid_or_false(odoo) -> None:
    uid = rpc(odoo, "common", "authenticate", "acme", "admin", PASSWORD, {})["result"]
    assert isinstance(uid, int) and uid > 1
    assert rpc(odoo, "common", "login", "acme", "admin", "wrong")["result"] is False
    assert rpc(odoo, "common", "version")["result"]["server_version"] == "18.0"
    denied = rpc(odoo, "object", "execute_kw", "acme", uid, "wrong", "res.partner", "read", [[1]])
    assert denied["error"]["code"] == 200 and denied["error"]["message"] == "Odoo Server Error"
    assert denied["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"


def test_search_read_with_domains_fields_limit_and_order(odoo) -> None:
    uid = rpc(odoo, "common", "authenticate", "acme", "admin", PASSWORD, {})["result"]
    found = execute(
        odoo, uid, "res.partner", "search_read",
        [["|", ["email", "=", "ana@example.com"], ["name", "ilike", "bo"]]],
        {"fields": ["name", "email"], "order": "name desc"},
    )["result"]  # fmt: skip
    assert found == [
        {"id": 3, "name": "Bo Chen", "email": "bo@example.com"},
        {"id": 2, "name": "Ana Lopez", "email": "ana@example.com"},
    ]
    orders = execute(
        odoo, uid, "sale.order", "search_read", [[["partner_id", "=", 2], ["state", "=", "sale"]]],
        {"fields": ["name", "partner_id", "amount_total"]},
    )["result"]  # fmt: skip
    assert orders == [
        {"id": 1, "name": "S00001", "partner_id": [2, "Ana Lopez"], "amount_total": 120.5}
    ]
    companies = execute(odoo, uid, "res.partner", "search_count", [[["is_company", "=", True]]])
    assert companies["result"] == 1
    bad = execute(odoo, uid, "res.partner", "search_read", [[["nope", "=", 1]]])
    assert bad["error"]["data"]["name"] == "builtins.ValueError"
    unknown = execute(odoo, uid, "no.model", "search_read", [[]])
    assert unknown["error"]["data"]["message"] == "Object no.model doesn't exist"


def test_create_write_read_and_odoos_refusals(odoo) -> None:
    uid = rpc(odoo, "common", "authenticate", "acme", "admin", PASSWORD, {})["result"]
    made = execute(odoo, uid, "res.partner", "create", [{"name": "Cy", "email": "cy@x.com"}])
    partner = made["result"]
    assert isinstance(partner, int)
    assert execute(odoo, uid, "res.partner", "write", [[partner], {"phone": "+1555"}])["result"]
    [read] = execute(odoo, uid, "res.partner", "read", [[partner]], {"fields": ["phone"]})["result"]
    assert read == {"id": partner, "phone": "+1555"}
    missing = execute(odoo, uid, "res.partner", "read", [[999]])
    assert missing["error"]["data"]["name"] == "odoo.exceptions.MissingError"
    invalid = execute(odoo, uid, "res.partner", "create", [{"email": "no-name@x.com"}])
    assert invalid["error"]["data"]["name"] == "odoo.exceptions.ValidationError"
    viewer = rpc(odoo, "common", "authenticate", "acme", "viewer", PASSWORD, {})["result"]
    refused = execute(odoo, viewer, "res.partner", "create", [{"name": "Dee"}])
    assert refused["error"]["data"]["name"] == "odoo.exceptions.AccessError"
    assert "not allowed to create" in refused["error"]["data"]["message"]
    calls = odoo.get("/sandbox/odoo/databases/acme/calls").json()["calls"]
    assert PASSWORD not in str(calls) and calls[0]["method"] == "create"


def test_a_rate_limited_database_answers_429_with_retry_after(odoo) -> None:
    odoo.post("/sandbox/odoo/databases/acme/rate-limited")
    login = {"service": "common", "method": "authenticate", "args": ["acme", "admin", PASSWORD]}
    body = {"jsonrpc": "2.0", "method": "call", "params": login, "id": 1}
    answer = odoo.post("/jsonrpc", json=body)
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"
