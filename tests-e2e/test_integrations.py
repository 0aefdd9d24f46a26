"""Integrations from the outside: a tenant connects Shopify through the gateway, a workflow's
Shopify node is answered by the integrations service (echo, or over HTTP by a tiny server on
127.0.0.1 standing in for the shop), and the answer lands in `workflow.<outputVariable>`."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from connections import connect

pytestmark = pytest.mark.e2e

ORDER_LOOKUP = {
    "name": "Order lookup",
    "triggerType": "Incoming Message",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        {
            "id": "shop",
            "type": "integration",
            "label": "Shopify",
            "config": {
                "action": "getOrder",
                "orderId": "{{trigger.orderId}}",
                "outputVariable": "order",
            },
        },
        {
            "id": "reply",
            "type": "action",
            "label": "Send Reply",
            "config": {"message": "Order {{workflow.order.name}} is {{workflow.order.status}}"},
        },
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "shop"},
        {"id": "e2", "source": "shop", "target": "reply"},
    ],
}


@dataclass
class Shop:
    """A stand-in for the tenant's shop: answers getOrder for order 1042, 404 otherwise."""

    base_url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def shop() -> Iterator[Shop]:
    state = Shop()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self.path == "/admin/getOrder" and body["params"].get("orderId") == "1042":
                status, answer = 200, {"name": "#1042", "status": "shipped", "total": "19.90"}
            else:
                status, answer = 404, {"message": "Order not found"}
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/admin"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


async def run_order_lookup(
    http: httpx.AsyncClient, headers: dict[str, str], order_id: str
) -> dict[str, Any]:
    saved = await http.post("/v1/workflows", json=ORDER_LOOKUP, headers=headers)
    assert saved.status_code == 201, saved.text
    await http.post(f"/v1/workflows/{saved.json()['id']}/activate", headers=headers)
    accepted = await http.post(
        "/v1/events/incoming_message",
        json={"conversation_id": "conv-i", "channel": "chat", "payload": {"orderId": order_id}},
        headers=headers,
    )
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = await http.get(
            "/v1/executions", params={"trigger_id": accepted.json()["trigger_id"]}, headers=headers
        )
        for summary in listed.json()["executions"]:
            if summary["status"] in ("completed", "failed"):
                one = await http.get(f"/v1/executions/{summary['id']}", headers=headers)
                return dict(one.json())
        await asyncio.sleep(0.1)
    raise AssertionError("the order lookup did not finish in 30s")


async def test_shopify_over_http_puts_the_shops_answer_in_the_output_variable(
    stack, http, tenant, shop, mongo
) -> None:
    await connect(
        http,
        tenant.headers,
        "shopify",
        mode="http",
        config={"shop": "acme.myshopify.com", "base_url": shop.base_url, "timeout_seconds": 5},
    )
    execution = await run_order_lookup(http, tenant.headers, "1042")
    assert execution["status"] == "completed", execution
    assert execution["variables"]["workflow"]["order"] == {
        "name": "#1042",
        "status": "shipped",
        "total": "19.90",
    }
    reply = next(n for n in execution["timeline"] if n["node_id"] == "reply" and n["input"])
    assert reply["input"]["message"] == "Order #1042 is shipped"

    [call] = shop.received
    key = call["headers"]["Idempotency-Key"]
    assert key.startswith(execution["id"] + ":shop:")
    assert call["body"] == {
        "action": "getOrder",
        "params": {"orderId": "1042"},
        "idempotency_key": key,
    }
    record = mongo.integration_calls.find_one({"_id": key})
    assert record is not None and record["status"] == "succeeded"
    assert record["tenant_id"] == tenant.tenant_id


async def test_a_4xx_from_the_shop_fails_the_node_with_integration_rejected(
    stack, http, tenant, shop
) -> None:
    await connect(
        http,
        tenant.headers,
        "shopify",
        mode="http",
        config={"shop": "acme.myshopify.com", "base_url": shop.base_url},
    )
    execution = await run_order_lookup(http, tenant.headers, "9999")
    assert execution["status"] == "failed"
    assert execution["error"]["node_id"] == "shop"
    assert "Order not found" in execution["error"]["message"]
    failed = next(n for n in execution["timeline"] if n["status"] == "failed")
    assert failed["error_detail"]["code"] == "NotFound"
    assert len(shop.received) == 1, "a rejection is not retried by the integrations service"


async def test_shopify_with_an_echo_connection_answers_the_params(stack, http, tenant) -> None:
    await connect(http, tenant.headers, "shopify", mode="echo")
    execution = await run_order_lookup(http, tenant.headers, "77")
    assert execution["status"] == "completed", execution
    assert execution["variables"]["workflow"]["order"] == {
        "echo": {"orderId": "77"},
        "action": "getOrder",
    }


async def test_without_a_connection_the_node_fails_naming_the_integration(
    stack, http, tenant
) -> None:
    execution = await run_order_lookup(http, tenant.headers, "1042")
    assert execution["status"] == "failed"
    assert "shopify" in execution["error"]["message"]
    failed = next(n for n in execution["timeline"] if n["status"] == "failed")
    assert failed["error_detail"]["code"] == "NotConnected"


async def test_connections_are_stored_sealed_and_managed_per_tenant(
    stack, http, tenant, mongo
) -> None:
    made = await connect(
        http,
        tenant.headers,
        "stripe",
        name="Live",
        credentials={"api_key": "sk_test_canary_e2e_1"},
        is_default=True,
    )
    stored = mongo.connections.find_one({"_id": made["id"]})
    assert stored is not None and stored["tenant_id"] == tenant.tenant_id
    assert "canary" not in json.dumps(stored, default=str)
    assert stored["credentials"]["fp"] == made["credentials"]["fingerprint"]
    taken = await http.post(
        "/v1/connections",
        json={"type": "stripe", "name": "Live", "mode": "echo"},
        headers=tenant.headers,
    )
    assert taken.status_code == 409, taken.text  # the unique index on FerretDB

    listed = await http.get("/v1/connections", headers=tenant.headers)
    assert [(c["name"], c["status"]) for c in listed.json()["connections"]] == [
        ("Live", "connected")
    ]
    bad = await http.post(
        "/v1/connections",
        json={"type": "stripe", "name": "x", "config": {"base_url": "https://sk_live_x:@h.io"}},
        headers=tenant.headers,
    )
    assert bad.status_code == 422 and "sk_live_x" not in bad.text
    gone = await http.delete(f"/v1/connections/{made['id']}", headers=tenant.headers)
    assert gone.status_code == 204
    assert (
        await http.get(f"/v1/connections/{made['id']}", headers=tenant.headers)
    ).status_code == 404
    assert mongo.connections.find_one({"_id": made["id"]}) is None


async def test_check_connection_goes_through_the_integrations_service(stack, http, tenant) -> None:
    echo = await connect(http, tenant.headers, "shopify", mode="echo")
    checked = await http.post(f"/v1/connections/{echo['id']}/check", headers=tenant.headers)
    assert checked.status_code == 200, checked.text
    assert checked.json()["ok"] is True
    pending = await connect(
        http, tenant.headers, "shopify", name="Awaiting OAuth", config={"shop": "a.myshopify.com"}
    )
    assert pending["status"] == "pending"
    refused = await http.post(f"/v1/connections/{pending['id']}/check", headers=tenant.headers)
    assert refused.json()["ok"] is False
    assert refused.json()["error"]["type"] == "NotConnected"
