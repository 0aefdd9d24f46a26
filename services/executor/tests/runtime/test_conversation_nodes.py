"""The executor's side of people in the loop: a conversation with an agent starts and resumes
nothing (unless the workflow says so), tags and End Chat are written on the conversation,
Assign Agent goes to the agent router keyed by tenant."""

from __future__ import annotations

from contracts import topics
from contracts.events import NotificationRequested, RoutingChanged
from executor.runtime.triggers import execution_id_for
from memory_stack import MemoryConversations, message, service
from test_service_batches import GREETING_REPLY, chain, node


async def test_a_message_to_a_conversation_with_an_agent_starts_nothing_and_says_why() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(GREETING_REPLY, memory)
    await svc.triggers.on_batch([message("t1")])
    memory.conversations_by_id["ten_1:conv-1"]["status"] = "with_agent"
    sent.events.clear()

    await svc.triggers.on_batch([message("t2")])

    assert execution_id_for("t2", "wf_1") not in store.executions
    assert sent.of(NotificationRequested) == []
    (skipped,) = store.trigger_outcomes["t2"]["not_started"]
    assert skipped["reason"] == "the conversation is with an agent"
    assert len(memory.messages) == 2  # logged for the agent all the same


async def test_a_workflow_may_still_run_while_an_agent_has_the_conversation() -> None:
    runs_anyway = chain(
        node("t", "trigger", "Incoming Message", whileWithAgent="run"),
        node("reply", "action", "Send Reply", message="Noted"),
    )
    memory = MemoryConversations()
    svc, store, _ = service(runs_anyway, memory)
    await svc.triggers.on_batch([message("t1")])
    memory.conversations_by_id["ten_1:conv-1"]["status"] = "with_agent"

    await svc.triggers.on_batch([message("t2")])

    assert store.executions[execution_id_for("t2", "wf_1")]["status"] == "completed"


async def test_tags_and_end_chat_change_the_conversation_and_tell_the_router() -> None:
    closing = chain(
        node("t", "trigger", "Incoming Message"),
        node("tag", "action", "Add Tag", tags=["vip", "billing"]),
        node("untag", "action", "Remove Tag", tags=["billing", "new"]),
        node("end", "action", "End Chat", message="Bye", status="resolved"),
    )
    memory = MemoryConversations()
    svc, store, sent = service(closing, memory)
    await svc.triggers.on_batch([message("t1")])  # a new conversation: written with its insert
    conversation = memory.conversations_by_id["ten_1:conv-1"]
    assert conversation["tags"] == ["vip"]
    assert (conversation["status"], conversation["resolution"]) == ("closed", "resolved")

    memory.conversations_by_id["ten_1:conv-1"]["tags"] = ["new", "old"]
    await svc.triggers.on_batch([message("t2")])  # an existing one: updates by operator
    conversation = memory.conversations_by_id["ten_1:conv-1"]
    assert conversation["tags"] == ["old", "vip"] and conversation["status"] == "closed"
    assert store.executions[execution_id_for("t2", "wf_1")]["status"] == "completed"

    goodbyes = [n.request["message"] for n in sent.of(NotificationRequested)]
    assert goodbyes == ["Bye", "Bye"]
    closes = [(t, e) for t, e in sent.events if isinstance(e, RoutingChanged)]
    assert {t for t, _ in closes} == {topics.AGENT_ROUTING}
    assert all(e.change == "released" and e.cancel_runs for _, e in closes)


async def test_assign_agent_goes_to_the_router() -> None:
    assigning = chain(
        node("t", "trigger", "Incoming Message"),
        node("a", "action", "Assign Agent", queue="support"),
    )
    svc, _, sent = service(assigning)
    await svc.triggers.on_batch([message("t1")])
    ((topic, request),) = [(t, e) for t, e in sent.events if isinstance(e, NotificationRequested)]
    assert topic == topics.AGENT_ROUTING
    assert request.kind == "action.assign_agent" and request.request["queue"] == "support"
