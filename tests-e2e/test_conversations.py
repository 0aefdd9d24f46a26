"""The conversation model on the real stack: conversation and global variables persist across
executions, a contact is the execution's customer, the message log, and the conversation and
contact API (filters, paging, changes, tenant isolation) on the MongoDB-wire server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from conftest import ADMIN_TOKEN, Tenant, TenantApi

pytestmark = pytest.mark.e2e


def counting_workflow() -> dict[str, Any]:
    nodes = [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        {
            "id": "c",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "conversation.count", "operation": "increment"},
        },
        {
            "id": "g",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "global.messages", "operation": "increment"},
        },
        {
            "id": "r",
            "type": "action",
            "label": "Send Reply",
            "config": {"message": "{{customer.name}} #{{conversation.count}}"},
        },
    ]
    edges = [
        {"id": "e1", "source": "t", "target": "c"},
        {"id": "e2", "source": "c", "target": "g"},
        {"id": "e3", "source": "g", "target": "r"},
    ]
    return {"name": "Counting", "triggerType": "Incoming Message", "nodes": nodes, "edges": edges}


async def conversation(api: TenantApi, conversation_id: str, messages: int) -> dict[str, Any]:
    """The conversation once its log has ``messages`` messages."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = await api.http.get(
            f"/v1/conversations/{conversation_id}", headers=api.tenant.headers
        )
        if answer.status_code == 200 and len(answer.json()["messages"]) >= messages:
            body: dict[str, Any] = answer.json()
            return body
        assert answer.status_code in (200, 404), answer.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"conversation {conversation_id} has not {messages} messages in 30 s")


async def test_variables_persist_across_executions_of_a_conversation(api: TenantApi) -> None:
    await api.activate(counting_workflow())
    contact = await api.http.post(
        "/v1/contacts",
        json={"name": "Ada Lovelace", "phone": "+15550001234", "attributes": {"plan": "pro"}},
        headers=api.tenant.headers,
    )
    assert contact.status_code == 201, contact.text
    customer = {"phone": "+15550001234"}

    first = await api.finished_execution(
        await api.message("hello", conversation_id="conv-a", customer=customer)
    )
    second = await api.finished_execution(
        await api.message("again", conversation_id="conv-a", customer=customer)
    )
    other = await api.finished_execution(
        await api.message("hi", conversation_id="conv-b", customer={"name": "Bob"})
    )

    assert first["variables"]["conversation"]["count"] == 1
    assert second["variables"]["conversation"]["count"] == 2  # what the first one wrote
    assert other["variables"]["conversation"]["count"] == 1
    assert second["trigger"]["customer"]["name"] == "Ada Lovelace"  # the contact's profile
    assert second["trigger"]["customer"]["metadata"] == {"plan": "pro"}

    seen = await conversation(api, "conv-a", messages=4)  # two in, two replies out
    assert seen["variables"] == {"count": 2}
    assert seen["status"] == "open"
    assert seen["contact_id"] == contact.json()["id"]
    log = [(m["direction"], m["body"]) for m in seen["messages"]]
    assert [body for direction, body in log if direction == "inbound"] == ["hello", "again"]
    replies = [body for direction, body in log if direction == "outbound"]
    assert replies == ["Ada Lovelace #1", "Ada Lovelace #2"]
    variables = await api.http.get("/v1/variables", headers=api.tenant.headers)
    assert variables.json() == {"variables": {"messages": 3}}


async def test_the_api_changes_status_tags_and_variables_and_lists_by_them(
    api: TenantApi, http: httpx.AsyncClient
) -> None:
    await api.activate(counting_workflow())
    for name in ("conv-x", "conv-y", "conv-z"):
        await api.finished_execution(await api.message("hi", conversation_id=name))
    headers = api.tenant.headers

    changed = await http.patch(
        "/v1/conversations/conv-x",
        json={"status": "closed", "add_tags": ["vip", "refund"], "variables": {"note": "called"}},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "closed"
    assert sorted(changed.json()["tags"]) == ["refund", "vip"]
    assert changed.json()["variables"] == {"count": 1, "note": "called"}
    removed = await http.patch(
        "/v1/conversations/conv-x",
        json={"remove_tags": ["refund"], "variables": {"note": None}},
        headers=headers,
    )
    assert removed.json()["tags"] == ["vip"]
    assert removed.json()["variables"] == {"count": 1}

    by_tag = await http.get("/v1/conversations", params={"tag": "vip"}, headers=headers)
    assert [c["id"] for c in by_tag.json()["conversations"]] == ["conv-x"]
    closed = await http.get("/v1/conversations", params={"status": "closed"}, headers=headers)
    assert [c["id"] for c in closed.json()["conversations"]] == ["conv-x"]
    page = await http.get("/v1/conversations", params={"limit": 2}, headers=headers)
    assert [c["id"] for c in page.json()["conversations"]] == ["conv-z", "conv-y"]
    rest = await http.get(
        "/v1/conversations",
        params={"limit": 2, "cursor": page.json()["next_cursor"]},
        headers=headers,
    )
    assert [c["id"] for c in rest.json()["conversations"]] == ["conv-x"]
    assert rest.json()["next_cursor"] is None

    # the customer writes again: the closed conversation reopens, the variable set by the
    # API is what the next execution reads
    await http.patch("/v1/conversations/conv-x", json={"variables": {"count": 41}}, headers=headers)
    again = await api.finished_execution(await api.message("back", conversation_id="conv-x"))
    assert again["variables"]["conversation"]["count"] == 42
    reopened = await conversation(api, "conv-x", messages=4)
    assert reopened["status"] == "open"

    both = await http.patch(
        "/v1/conversations/conv-x",
        json={"tags": ["a", "c"], "add_tags": ["b"], "remove_tags": ["c"]},
        headers=headers,
    )
    assert both.json()["tags"] == ["a", "b"]
    unknown = await http.patch("/v1/conversations/nope", json={"status": "closed"}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_contacts_are_found_by_address_and_kept_to_their_tenant(
    api: TenantApi, http: httpx.AsyncClient
) -> None:
    headers = api.tenant.headers
    made = await http.post(
        "/v1/contacts",
        json={"name": "Grace", "email": "Grace@Example.com", "external_id": "crm-7"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    contact_id = made.json()["id"]
    clash = await http.post("/v1/contacts", json={"email": "grace@example.com"}, headers=headers)
    assert clash.status_code == 409, clash.text
    nothing_to_find = await http.post("/v1/contacts", json={"name": "X"}, headers=headers)
    assert nothing_to_find.status_code == 422
    bad_phone = await http.post("/v1/contacts", json={"phone": "555"}, headers=headers)
    assert bad_phone.status_code == 422
    assert bad_phone.json()["errors"][0]["name"] == "body.phone"

    found = await http.get("/v1/contacts", params={"email": "grace@example.com"}, headers=headers)
    assert [c["id"] for c in found.json()["contacts"]] == [contact_id]
    moved = await http.patch(
        f"/v1/contacts/{contact_id}",
        json={"email": None, "phone": "+15557654321"},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["phone"] == "+15557654321"
    assert moved.json()["email"] is None
    old = await http.get("/v1/contacts", params={"email": "grace@example.com"}, headers=headers)
    assert old.json()["contacts"] == []
    reused = await http.post("/v1/contacts", json={"email": "grace@example.com"}, headers=headers)
    assert reused.status_code == 201  # the address was released

    other = await http.post(
        "/v1/tenants", json={"name": "Other"}, headers={"X-Admin-Token": ADMIN_TOKEN}
    )
    outsider = Tenant(other.json()["tenant_id"], other.json()["api_key"])
    assert (
        await http.get(f"/v1/contacts/{contact_id}", headers=outsider.headers)
    ).status_code == 404
    theirs = await http.post(
        "/v1/contacts", json={"external_id": "crm-7"}, headers=outsider.headers
    )
    assert theirs.status_code == 201  # addresses are unique per tenant, not across tenants
    assert (await http.get("/v1/variables", headers=outsider.headers)).json() == {"variables": {}}
    listed = await http.get("/v1/conversations", headers=outsider.headers)
    assert listed.json()["conversations"] == []

    gone = await http.delete(f"/v1/contacts/{contact_id}", headers=headers)
    assert gone.status_code == 204
    assert (await http.get(f"/v1/contacts/{contact_id}", headers=headers)).status_code == 404
