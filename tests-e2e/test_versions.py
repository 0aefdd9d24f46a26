"""Versions from the outside: publishing never changes what runs until a version is activated;
executions stay on the version they started on; versions are listed and activated by number."""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from workflows import greeting_workflow

pytestmark = pytest.mark.e2e


def greeting(message: str) -> dict[str, Any]:
    wf = greeting_workflow()
    wf["nodes"][2]["config"]["message"] = message
    return wf


async def trigger(http: httpx.AsyncClient, headers: dict[str, str], conversation: str) -> str:
    accepted = await http.post(
        "/v1/events/incoming_message",
        json={"conversation_id": conversation, "channel": "chat", "payload": {"text": "hi"}},
        headers=headers,
    )
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["trigger_id"])


async def executions_of(
    http: httpx.AsyncClient, headers: dict[str, str], trigger_id: str
) -> list[dict[str, Any]]:
    listed = await http.get("/v1/executions", params={"trigger_id": trigger_id}, headers=headers)
    return list(listed.json()["executions"])


async def finished(
    http: httpx.AsyncClient, headers: dict[str, str], trigger_id: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for summary in await executions_of(http, headers, trigger_id):
            if summary["status"] in ("completed", "failed"):
                return dict(
                    (await http.get(f"/v1/executions/{summary['id']}", headers=headers)).json()
                )
        await asyncio.sleep(0.1)
    raise AssertionError(f"no finished execution for trigger {trigger_id} in {timeout}s")


def replied(execution: dict[str, Any]) -> str:
    reply = next(n for n in execution["timeline"] if n["node_id"] == "reply" and n["input"])
    return str(reply["input"]["message"])


async def test_publish_list_and_activate_versions(stack, http, tenant) -> None:
    headers = tenant.headers
    saved = await http.post("/v1/workflows", json=greeting("version one"), headers=headers)
    workflow_id = saved.json()["id"]
    assert (await http.post(f"/v1/workflows/{workflow_id}/activate", headers=headers)).json()[
        "active_version"
    ] == 1

    published = await http.put(
        f"/v1/workflows/{workflow_id}", json=greeting("version two"), headers=headers
    )
    assert published.status_code == 200, published.text
    assert (published.json()["version"], published.json()["active_version"]) == (2, 1)
    first = await finished(http, headers, await trigger(http, headers, "conv-v"))
    assert (first["workflow_version"], replied(first)) == (1, "version one")

    activated = await http.post(
        f"/v1/workflows/{workflow_id}/activate", json={"version": 2}, headers=headers
    )
    assert activated.status_code == 200 and activated.json()["active_version"] == 2
    second = await finished(http, headers, await trigger(http, headers, "conv-v"))
    assert (second["workflow_version"], replied(second)) == (2, "version two")

    versions = (await http.get(f"/v1/workflows/{workflow_id}/versions", headers=headers)).json()
    assert [(v["version"], v["active"]) for v in versions["versions"]] == [(2, True), (1, False)]
    assert versions["versions"][0]["created_at"] >= versions["versions"][1]["created_at"]
    one = await http.get(f"/v1/workflows/{workflow_id}/versions/1", headers=headers)
    assert one.json()["definition"]["nodes"][2]["config"]["message"] == "version one"

    missing = await http.post(
        f"/v1/workflows/{workflow_id}/activate", json={"version": 9}, headers=headers
    )
    assert missing.status_code == 422
    assert "no version 9" in missing.json()["detail"]
    assert missing.json()["errors"][0]["name"] == "body.version"
    back = await http.post(
        f"/v1/workflows/{workflow_id}/activate", json={"version": 1}, headers=headers
    )
    assert back.json()["active_version"] == 1
    third = await finished(http, headers, await trigger(http, headers, "conv-v"))
    assert third["workflow_version"] == 1


async def test_a_deactivated_workflow_starts_nothing(stack, http, tenant) -> None:
    headers = tenant.headers
    saved = await http.post("/v1/workflows", json=greeting("hello"), headers=headers)
    workflow_id = saved.json()["id"]
    await http.post(f"/v1/workflows/{workflow_id}/activate", headers=headers)
    off = await http.post(f"/v1/workflows/{workflow_id}/deactivate", headers=headers)
    assert off.json()["is_active"] is False
    ignored = await trigger(http, headers, "conv-d")
    await http.post(f"/v1/workflows/{workflow_id}/activate", headers=headers)
    # Same conversation, same partition: once the later trigger ran, the earlier one was seen.
    await finished(http, headers, await trigger(http, headers, "conv-d"))
    assert await executions_of(http, headers, ignored) == []


async def test_publishing_an_invalid_definition_is_422_and_keeps_the_versions(
    stack, http, tenant
) -> None:
    saved = await http.post("/v1/workflows", json=greeting("hello"), headers=tenant.headers)
    workflow_id = saved.json()["id"]
    broken = copy.deepcopy(greeting("hello"))
    broken["nodes"][1]["label"] = "Teleport"
    response = await http.put(f"/v1/workflows/{workflow_id}", json=broken, headers=tenant.headers)
    assert response.status_code == 422
    problem = response.json()
    assert "set" in problem["detail"] and problem["errors"][0]["name"] == "body.nodes[1]"
    got = (await http.get(f"/v1/workflows/{workflow_id}", headers=tenant.headers)).json()
    assert got["latest_version"] == 1


async def test_the_tenants_workflows_are_listed_newest_first_in_pages(
    stack, http, tenant, mongo
) -> None:
    ids = []
    for i in range(3):
        saved = await http.post("/v1/workflows", json=greeting(f"m{i}"), headers=tenant.headers)
        ids.append(saved.json()["id"])
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await http.get("/v1/workflows", params=params, headers=tenant.headers)).json()
        seen += page["workflows"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert sorted(w["id"] for w in seen) == sorted(ids)
    order = [(datetime.fromisoformat(w["created_at"]), w["id"]) for w in seen]  # as instants
    assert order == sorted(order, reverse=True)
    assert mongo.workflow_versions.count_documents({"workflow_id": {"$in": ids}}) == 3


async def test_an_execution_finishes_on_the_version_it_started_on(stack, http, tenant) -> None:
    """A wait, then a reply: publish and activate a new version while it waits."""
    headers = tenant.headers
    waits = greeting("old version")
    waits["nodes"].insert(
        2, {"id": "wait", "type": "logic", "label": "Wait/Delay", "config": {"duration": 2}}
    )
    waits["edges"] = [
        {"id": "e1", "source": "t", "target": "set"},
        {"id": "e2", "source": "set", "target": "wait"},
        {"id": "e3", "source": "wait", "target": "reply"},
    ]
    saved = await http.post("/v1/workflows", json=waits, headers=headers)
    workflow_id = saved.json()["id"]
    await http.post(f"/v1/workflows/{workflow_id}/activate", headers=headers)
    trigger_id = await trigger(http, headers, "conv-p")
    deadline = time.monotonic() + 30
    while not any(e["status"] == "waiting" for e in await executions_of(http, headers, trigger_id)):
        assert time.monotonic() < deadline, "the execution never waited"
        await asyncio.sleep(0.1)
    newer = copy.deepcopy(waits)
    newer["nodes"][3]["config"]["message"] = "new version"
    published = await http.put(
        f"/v1/workflows/{workflow_id}", params={"activate": "true"}, json=newer, headers=headers
    )
    assert published.json()["active_version"] == 2
    execution = await finished(http, headers, trigger_id)
    assert execution["status"] == "completed"
    assert (execution["workflow_version"], replied(execution)) == (1, "old version")
