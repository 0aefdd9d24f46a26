"""People in the loop on the real stack: agents and queues through the API, Assign Agent routed
by the notifier's agent router (50 at once, never past capacity), a takeover that pauses the
bot until the agent returns the conversation, approvals approved, edited, rejected and timed
out, tags and End Chat."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from conftest import TenantApi

pytestmark = pytest.mark.e2e
T = TypeVar("T")


def flow(*nodes: dict[str, Any], edges: list[tuple[str, str, str | None]]) -> dict[str, Any]:
    trigger = {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}}
    return {
        "name": "people",
        "triggerType": "Incoming Message",
        "nodes": [trigger, *nodes],
        "edges": [
            {"id": f"e{i}", "source": s, "target": t, **({"label": label} if label else {})}
            for i, (s, t, label) in enumerate(edges)
        ],
    }


def node(node_id: str, label: str, kind: str = "action", **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "label": label, "config": config}


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.2)


async def agents(api: TenantApi, *specs: dict[str, Any], queue: str = "support") -> None:
    for spec in specs:
        made = await api.http.post(
            "/v1/agents", json={"status": "online", **spec}, headers=api.tenant.headers
        )
        assert made.status_code == 201, made.text
    put = await api.http.put(
        f"/v1/queues/{queue}",
        json={"members": [s["id"] for s in specs]},
        headers=api.tenant.headers,
    )
    assert put.status_code == 200, put.text


async def conversation(api: TenantApi, conversation_id: str) -> dict[str, Any]:
    got = await api.http.get(f"/v1/conversations/{conversation_id}", headers=api.tenant.headers)
    assert got.status_code == 200, got.text
    return dict(got.json())


async def running(api: TenantApi, trigger_id: str) -> dict[str, Any]:
    async def waiting() -> dict[str, Any] | None:
        listed = await api.http.get(
            "/v1/executions", params={"trigger_id": trigger_id}, headers=api.tenant.headers
        )
        found = [e for e in listed.json()["executions"] if e["status"] == "waiting"]
        return found[0] if found else None

    return await eventually(waiting)


async def test_fifty_assignments_at_once_never_pass_capacity(api: TenantApi) -> None:
    await agents(
        api,
        {"id": "ann", "name": "Ann", "capacity": 5},
        {"id": "bob", "name": "Bob", "capacity": 5},
        {"id": "cy", "name": "Cy", "capacity": 3},
    )
    assign = node("a", "Assign Agent", queue="support", outputVariable="assigned")
    await api.activate(flow(assign, edges=[("t", "a", None)]))
    triggers = await asyncio.gather(
        *(api.message("help", conversation_id=f"rr-{n}") for n in range(50))
    )
    done = await asyncio.gather(*(api.finished_execution(t, timeout=90) for t in triggers))

    results = [d["variables"]["workflow"]["assigned"] for d in done]
    assert all(d["status"] == "completed" for d in done)
    agents_given = Counter(r["agentId"] for r in results if r["status"] == "assigned")
    assert agents_given == {"ann": 5, "bob": 5, "cy": 3}
    assert sum(r["status"] == "queued" for r in results) == 37
    for agent_id, capacity in (("ann", 5), ("bob", 5), ("cy", 3)):
        got = await api.http.get(f"/v1/agents/{agent_id}", headers=api.tenant.headers)
        assert got.json()["load"] == capacity
    queue = (await api.http.get("/v1/queues/support", headers=api.tenant.headers)).json()
    assert len(queue["waiting"]) == 37 and len(queue["assigned"]) == 13
    assigned = next(r for r in results if r["status"] == "assigned")
    one = await conversation(api, f"rr-{results.index(assigned)}")
    assert one["status"] == "with_agent" and one["assignee"] == assigned["agentId"]
    assert one["assignment"]["reason"].startswith("round robin")

    # closing one frees its agent, who gets the conversation waiting longest
    closed = await api.http.patch(
        f"/v1/conversations/rr-{results.index(assigned)}",
        json={"status": "closed"},
        headers=api.tenant.headers,
    )
    assert closed.status_code == 200, closed.text

    async def drained() -> dict[str, Any] | None:
        got = (await api.http.get("/v1/queues/support", headers=api.tenant.headers)).json()
        return got if len(got["waiting"]) == 36 else None

    queue = await eventually(drained)
    assert len(queue["assigned"]) == 13


async def test_skills_routing_and_priority(api: TenantApi) -> None:
    await agents(
        api,
        {"id": "gen", "name": "Generalist", "capacity": 5, "skills": ["billing"]},
        {"id": "calm", "name": "Calm", "capacity": 5, "skills": ["billing", "de-escalation"]},
    )
    assign = node(
        "a",
        "Assign Agent",
        queue="support",
        strategy="skill_based",
        skills=["de-escalation"],
        outputVariable="assigned",
    )
    await api.activate(flow(assign, edges=[("t", "a", None)]))
    trigger = await api.message("this is unacceptable", conversation_id="sk-1")
    done = await api.finished_execution(trigger)
    assigned = done["variables"]["workflow"]["assigned"]
    assert assigned["agentId"] == "calm" and assigned["reason"].startswith("skills")


async def test_takeover_pauses_the_bot_and_return_to_bot_resumes(
    api: TenantApi, http: httpx.AsyncClient
) -> None:
    await agents(api, {"id": "ann", "name": "Ann", "capacity": 2})
    handoff = node("h", "Human Handoff", kind="advanced", queue="support", reason="asks a human")
    back = node("r", "Send Reply", message="The bot is back, {{customer.name}}.")
    await api.activate(flow(handoff, back, edges=[("t", "h", None), ("h", "r", "resolved")]))
    first = await api.message("a human please", conversation_id="to-1")
    waiting = await running(api, first)

    async def taken() -> dict[str, Any] | None:
        got = await conversation(api, "to-1")
        return got if got["status"] == "with_agent" and got["assignee"] == "ann" else None

    await eventually(taken)
    second = await api.message("hello? anyone?", conversation_id="to-1")

    async def outcome() -> dict[str, Any] | None:
        got = await http.get(f"/v1/triggers/{second}", headers=api.tenant.headers)
        return dict(got.json()) if got.status_code == 200 else None

    paused = await eventually(outcome)
    assert [n["reason"] for n in paused["not_started"]] == ["the conversation is with an agent"]

    reply = await http.post(
        "/v1/conversations/to-1/agent-messages",
        json={"agent_id": "ann", "text": "Hi, Ann here.", "client_message_id": "m1"},
        headers=api.tenant.headers,
    )
    assert reply.status_code == 202, reply.text

    async def logged() -> list[dict[str, Any]] | None:
        got = await http.get("/v1/conversations/to-1/messages", headers=api.tenant.headers)
        bodies = [m for m in got.json()["messages"] if m.get("body") == "Hi, Ann here."]
        return bodies or None

    (agent_said,) = await eventually(logged)
    assert agent_said["direction"] == "outbound"

    back_to_bot = await http.post(
        "/v1/conversations/to-1/return-to-bot",
        json={"by": "ann", "note": "sorted"},
        headers=api.tenant.headers,
    )
    assert back_to_bot.status_code == 200, back_to_bot.text
    assert back_to_bot.json()["resumed"] == waiting["id"]
    done = await api.finished_execution(first)
    assert done["status"] == "completed"
    assert [n["node_id"] for n in done["timeline"]][-1] == "r"

    async def freed() -> dict[str, Any] | None:
        got = (await http.get("/v1/agents/ann", headers=api.tenant.headers)).json()
        return got if got["load"] == 0 else None

    await eventually(freed)


@pytest.mark.parametrize("decision", ["approve", "edit", "reject", "timeout"])
async def test_an_approval(api: TenantApi, http: httpx.AsyncClient, decision: str) -> None:
    await agents(api, {"id": "boss", "name": "Boss"}, {"id": "intern", "name": "Intern"})
    approval = node(
        "h",
        "Human Handoff",
        kind="advanced",
        queue="support",
        requireApproval=True,
        approvers=["boss"],
        reason="refund of {{trigger.amount}}",
        draft="Refund {{trigger.amount}} to Ada",
        timeoutSeconds=4 if decision == "timeout" else 120,
        outputVariable="approval",
    )
    yes = node("yes", "Set Variable", path="workflow.done", value="{{workflow.approval.draft}}")
    no = node("no", "Set Variable", path="workflow.done", value="refused")
    late = node("late", "Set Variable", path="workflow.done", value="nobody decided")
    edges = [("t", "h", None), ("h", "yes", "approved"), ("h", "no", "rejected")]
    await api.activate(flow(approval, yes, no, late, edges=[*edges, ("h", "late", "timeout")]))
    trigger = await api.message("refund please", conversation_id=f"ap-{decision}")
    execution = await running(api, trigger)

    async def item() -> dict[str, Any] | None:
        got = await http.get("/v1/approvals", headers=api.tenant.headers)
        mine = [a for a in got.json()["approvals"] if a["execution_id"] == execution["id"]]
        return mine[0] if mine else None

    opened = await eventually(item)
    assert opened["kind"] == "approval" and opened["approvers"] == ["boss"]
    assert opened["subject"]["draft"] == "Refund {{trigger.amount}} to Ada" or opened["subject"]
    url = f"/v1/approvals/{opened['id']}/decision"
    if decision != "timeout":
        refused = await http.post(
            url, json={"decision": "approve", "by": "intern"}, headers=api.tenant.headers
        )
        assert refused.status_code == 403, refused.text  # not an approver
        body: dict[str, Any] = {"decision": "reject" if decision == "reject" else "approve"}
        if decision == "edit":
            body["draft"] = "Refund 40 to Ada"
        decided = await http.post(url, json={**body, "by": "boss"}, headers=api.tenant.headers)
        assert decided.status_code == 200, decided.text
        again = await http.post(url, json={**body, "by": "boss"}, headers=api.tenant.headers)
        assert again.status_code == 409  # the first decision stands
    done = await api.finished_execution(trigger, timeout=30)
    expected = {
        "approve": "Refund {{trigger.amount}} to Ada",
        "edit": "Refund 40 to Ada",
        "reject": "refused",
        "timeout": "nobody decided",
    }[decision]
    assert done["variables"]["workflow"]["done"].startswith(expected.split("{{")[0])
    record = (await http.get(f"/v1/approvals/{opened['id']}", headers=api.tenant.headers)).json()
    if decision == "timeout":
        assert record["status"] == "expired"
    else:
        assert record["decision"]["by"] == "boss"
        assert record["status"] == ("rejected" if decision == "reject" else "approved")
        assert record["decision"]["edited"] is (decision == "edit")


async def test_tags_and_end_chat_and_reopening(api: TenantApi, http: httpx.AsyncClient) -> None:
    tag = node("tag", "Add Tag", tags=["vip", "billing"])
    untag = node("untag", "Remove Tag", tags=["billing"])
    end = node("end", "End Chat", message="Goodbye {{customer.name}}!", status="resolved")
    await api.activate(
        flow(
            tag,
            untag,
            end,
            edges=[("t", "tag", None), ("tag", "untag", None), ("untag", "end", None)],
        )
    )
    first = await api.message("thanks, all good", conversation_id="tc-1")
    assert (await api.finished_execution(first))["status"] == "completed"

    async def closed() -> dict[str, Any] | None:
        got = await conversation(api, "tc-1")
        return got if got["status"] == "closed" else None

    got = await eventually(closed)
    assert got["tags"] == ["vip"] and got["resolution"] == "resolved"
    listed = await http.get("/v1/conversations", params={"tag": "vip"}, headers=api.tenant.headers)
    assert [c["id"] for c in listed.json()["conversations"]] == ["tc-1"]

    async def goodbye() -> bool:
        got = await http.get("/v1/conversations/tc-1/messages", headers=api.tenant.headers)
        return any(m.get("body") == "Goodbye Ada!" for m in got.json()["messages"])

    await eventually(goodbye)
    again = await api.message("one more thing", conversation_id="tc-1")
    await api.finished_execution(again)
    assert (await conversation(api, "tc-1"))["reopened_at"] is not None


async def test_without_approvers_the_queues_agents_decide(
    api: TenantApi, http: httpx.AsyncClient
) -> None:
    await agents(api, {"id": "boss", "name": "Boss"})
    outsider = await http.post(
        "/v1/agents", json={"id": "out", "name": "Outsider"}, headers=api.tenant.headers
    )
    assert outsider.status_code == 201, outsider.text
    approval = node(
        "h", "Human Handoff", kind="advanced", queue="support", requireApproval=True, draft="ok?"
    )
    done_node = node("yes", "Set Variable", path="workflow.done", value="approved")
    await api.activate(
        flow(approval, done_node, edges=[("t", "h", None), ("h", "yes", "approved")])
    )
    trigger = await api.message("may I?", conversation_id="ap-queue")
    execution = await running(api, trigger)

    async def item() -> dict[str, Any] | None:
        got = await http.get("/v1/approvals", headers=api.tenant.headers)
        mine = [a for a in got.json()["approvals"] if a["execution_id"] == execution["id"]]
        return mine[0] if mine else None

    opened = await eventually(item)
    url = f"/v1/approvals/{opened['id']}/decision"
    refused = await http.post(
        url, json={"decision": "approve", "by": "out"}, headers=api.tenant.headers
    )
    assert refused.status_code == 403, refused.text
    decided = await http.post(
        url, json={"decision": "approve", "by": "boss"}, headers=api.tenant.headers
    )
    assert decided.status_code == 200, decided.text
    assert (await api.finished_execution(trigger))["variables"]["workflow"]["done"] == "approved"
