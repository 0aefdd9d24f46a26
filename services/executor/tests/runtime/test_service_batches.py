"""ExecutionService on consumed batches: one round of writes, then one round of sends.

In-memory repositories stand in for MongoDB here (the end-to-end tests run the same code on
FerretDB); they count calls, so the tests see how many writes a batch costs."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from contracts import Envelope
from contracts.conversations import decoded_variables
from contracts.events import (
    EffectSettled,
    ExecutionCancelRequested,
    ExecutionCompleted,
    ExecutionRequested,
    MessageQueued,
    NotificationRequested,
    TriggerReceived,
)
from executor.runtime.service import ExecutionService
from executor.runtime.triggers import execution_id_for
from memory_stack import (
    MemoryConversations,
    Sent,
    Store,
    command,
    message,
    service,
    settle,
    trigger,
)

Doc = dict[str, Any]


def node(node_id: str, node_type: str, label: str, **config: Any) -> Doc:
    return {"id": node_id, "type": node_type, "label": label, "config": config}


def chain(*nodes: Doc) -> Doc:
    return {
        "name": "test",
        "triggerType": "Incoming Message",
        "nodes": list(nodes),
        "edges": [
            {"id": f"e{i}", "source": a["id"], "target": b["id"]}
            for i, (a, b) in enumerate(itertools.pairwise(nodes))
        ],
    }


TRIGGER = node("t", "trigger", "Incoming Message")
GREETING_REPLY = chain(TRIGGER, node("reply", "action", "Send Reply", message="Hello"))
LOOKUP = chain(  # waits for the integrations service, then replies
    TRIGGER,
    node("shop", "integration", "Shopify", action="getOrder", orderId="1", outputVariable="o"),
    node("reply", "action", "Send Reply", message="Order {{workflow.o.name}}"),
)


async def test_a_batch_of_triggers_runs_its_executions_in_one_round_of_writes() -> None:
    svc, store, sent = service(GREETING_REPLY)

    await svc.triggers.on_batch([trigger("t1"), trigger("t2"), trigger("t3")])

    assert len(store.executions) == 3
    assert all(doc["status"] == "completed" for doc in store.executions.values())
    # one read of the active workflows (no waits: the conversations are new, no run can
    # wait in them), then one insert of the executions, each with its node runs in it (3
    # each: the reply runs twice, requested then answered at once): a new execution's state
    # and timeline are written together
    writes = [c for c in store.calls if c != "send"]
    assert writes == ["active_for", "create_many:3"]
    assert store.node_runs == {}
    for doc in store.executions.values():
        assert [r["seq"] for r in json.loads(doc["first_runs_json"])] == [1, 2, 3]
        assert doc["first_runs_last_seq"] == 3
    assert store.calls[-1] == "send"
    assert store.calls.index("send") > store.calls.index("create_many:3")
    # started in the same pass: no start command to itself
    assert sent.of(ExecutionRequested) == []
    assert len(sent.of(ExecutionCompleted)) == 3


async def test_a_redelivered_trigger_sends_the_start_command_instead_of_running_again() -> None:
    svc, store, sent = service(GREETING_REPLY)
    await svc.triggers.on_batch([trigger("t1")])
    before = copy.deepcopy(store.executions)
    sent.events.clear()

    await svc.triggers.on_batch([trigger("t1")])

    assert store.executions == before
    (start,) = sent.of(ExecutionRequested)
    assert start.command_id == "start:" + execution_id_for("t1", "wf_1")
    assert sent.of(ExecutionCompleted) == []

    # ... and that start command re-publishes the outbox written with the first attempt
    sent.events.clear()
    await svc.commands.on_batch([command(start)])
    assert len(sent.of(ExecutionCompleted)) == 1
    assert store.executions == before


async def test_commands_of_one_execution_in_a_batch_read_and_write_it_once() -> None:
    svc, store, sent = service(LOOKUP)
    await svc.triggers.on_batch([trigger("t1")])
    exe = store.executions[execution_id_for("t1", "wf_1")]
    assert exe["status"] == "waiting"
    (effect_id,) = exe["waiting_for"]
    store.calls.clear()
    settled = settle(exe, effect_id, "#1001")
    again = settled.model_copy(update={"command_id": "settle:again"})

    await svc.commands.on_batch([command(settled), command(again)])

    stored = store.executions[exe["_id"]]
    assert stored["status"] == "completed"
    assert stored["applied_commands"] == [settled.command_id]  # the second changed nothing
    # no read: this process wrote it last (the write's version check would tell otherwise)
    assert [c for c in store.calls if c != "send"] == ["node_runs:1", "save"]
    assert len(sent.of(NotificationRequested)) == 1
    # the first command's runs stay in the execution, the later ones are in node_runs
    assert [r["seq"] for r in json.loads(stored["first_runs_json"])] == [1, 2]
    (later,) = store.node_runs.values()
    assert (later["seq"], later["last_seq"]) == (3, 5)

    # redelivered after a crash before the sends: the outbox goes out again, nothing reruns
    sent.events.clear()
    await svc.commands.on_batch([command(settled)])
    assert store.executions[exe["_id"]] == stored
    assert len(sent.of(NotificationRequested)) == 1
    assert len(sent.of(ExecutionCompleted)) == 1


TWO_LOOKUPS = chain(
    TRIGGER,
    node("a", "integration", "Shopify", action="getOrder", orderId="1", outputVariable="a"),
    node("b", "integration", "Shopify", action="getOrder", orderId="2", outputVariable="b"),
    node("reply", "action", "Send Reply", message="{{workflow.a.name}} {{workflow.b.name}}"),
)


async def waiting_on_the_first_lookup() -> tuple[ExecutionService, Store, Sent, Doc, str]:
    """A TWO_LOOKUPS execution, started and waiting for its first lookup's effect."""
    svc, store, sent = service(TWO_LOOKUPS)
    await svc.triggers.on_batch([trigger("t1")])
    exe = store.executions[execution_id_for("t1", "wf_1")]
    (first,) = exe["waiting_for"]
    return svc, store, sent, exe, first


async def test_a_command_planned_while_the_last_write_is_in_flight_builds_on_it() -> None:
    svc, store, sent, exe, first = await waiting_on_the_first_lookup()
    flush_first = await svc.commands.plan([command(settle(exe, first, "#1"))])
    # not written yet: the next command (its effect known only from that plan) is planned
    # on the document being written, without reading MongoDB
    (second,) = svc.flush.pending[exe["_id"]]["waiting_for"]
    store.calls.clear()
    flush_second = await svc.commands.plan([command(settle(exe, second, "#2"))])
    assert "get" not in store.calls

    await flush_first()
    await flush_second()  # the memory store checks each save's expected version

    stored = store.executions[exe["_id"]]
    assert stored["status"] == "completed" and stored["version"] == exe["version"] + 2
    (reply,) = sent.of(NotificationRequested)
    assert reply.request["message"] == "#1 #2"
    assert svc.flush.pending == {}


async def test_a_failed_write_forgets_what_was_planned_on_it() -> None:
    svc, store, _, exe, first = await waiting_on_the_first_lookup()
    flush = await svc.commands.plan([command(settle(exe, first, "#1"))])
    assert exe["_id"] in svc.flush.pending

    async def down(doc: Doc, expected_version: int, *, fresh: bool = False) -> None:
        raise RuntimeError("MongoDB went away")

    store.save = down  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await flush()
    assert svc.flush.pending == {}  # the next plan reads MongoDB again


async def test_a_new_executions_first_state_is_not_taken_as_written() -> None:
    """A redelivered trigger plans a fresh start for an execution that may have moved on; the
    insert will find it and change nothing, so no later plan may build on that fresh start."""
    svc, _, _ = service(LOOKUP)
    await svc.triggers.on_batch([trigger("t1")])
    flush = await svc.triggers.plan([trigger("t1")])  # redelivered
    assert svc.flush.pending == {}
    await flush()


async def test_a_trigger_its_filter_does_not_admit_starts_nothing_and_says_why() -> None:
    sms_only = chain(
        node("t", "trigger", "Incoming Message", channels=["sms"]),
        node("reply", "action", "Send Reply", message="Hello"),
    )
    svc, store, sent = service(sms_only)
    await svc.triggers.on_batch([trigger("x1"), trigger("x1")])  # the second: a redelivery
    assert store.executions == {} and sent.of(NotificationRequested) == []
    outcome = store.trigger_outcomes["x1"]
    assert outcome["tenant_id"] == "ten_1" and outcome["resumed"] == []
    (skipped,) = outcome["not_started"]
    assert skipped["workflow_id"] == "wf_1" and skipped["version"] == 1
    assert skipped["reason"] == "channel 'chat' is not one of ['sms']"


async def test_a_trigger_that_starts_every_active_workflow_writes_no_outcome() -> None:
    svc, store, _ = service(GREETING_REPLY)
    await svc.triggers.on_batch([trigger("x1")])
    assert len(store.executions) == 1 and store.trigger_outcomes == {}
    assert not any(call.startswith("trigger_outcomes") for call in store.calls)


# -- conversations: the message log, persisted variables, contacts, status ----------------------

COUNTING = chain(
    TRIGGER,
    node("c", "action", "Set Variable", path="conversation.count", operation="increment"),
    node("g", "action", "Set Variable", path="global.seen", operation="increment"),
    node("n", "action", "Set Variable", path="conversation.name", value="{{customer.name}}"),
    node("reply", "action", "Send Reply", message="#{{conversation.count}}"),
)
ASKING = chain(
    TRIGGER,
    node("ask", "action", "Send Reply", message="Your order number?"),
    node("wait", "advanced", "Wait for Reply", timeoutSeconds=60),
    node("keep", "action", "Set Variable", path="conversation.order", value="{{trigger.text}}"),
)


def variables_of(store: Store, trigger_id: str) -> Doc:
    doc = store.executions[execution_id_for(trigger_id, "wf_1")]
    return json.loads(doc["variables_json"])


async def test_conversation_and_global_variables_persist_across_executions() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(COUNTING, memory)

    await svc.triggers.on_batch([message("t1")])
    await svc.triggers.on_batch([message("t2")])
    await svc.triggers.on_batch([message("t3", conversation="conv-2")])

    assert variables_of(store, "t1")["conversation"]["count"] == 1
    assert variables_of(store, "t2")["conversation"]["count"] == 2  # read what t1 wrote
    assert variables_of(store, "t3")["conversation"]["count"] == 1  # another conversation
    assert memory.variables("ten_1:conv-1")["count"] == 2
    assert memory.variables("ten_1:conv-2")["count"] == 1
    # the tenant's (global) variable is one for every conversation
    assert decoded_variables(memory.tenants["ten_1"]["variables"]) == {"seen": 3}
    replies = [r.request["message"] for r in sent.of(NotificationRequested)]
    assert replies == ["#1", "#2", "#1"]


async def test_a_batch_with_two_messages_of_one_conversation_orders_their_writes() -> None:
    memory = MemoryConversations()
    svc, _, _ = service(COUNTING, memory)

    await svc.triggers.on_batch([message("t1"), message("t2")])

    # both started from what was stored before the batch (a snapshot at start), so each
    # counted 1; the last write of the variable wins (docs/architecture.md, *Conversations*)
    assert memory.variables("ten_1:conv-1")["count"] == 1
    assert len(memory.messages) == 2


async def test_a_message_is_logged_once_and_its_conversation_upserted() -> None:
    memory = MemoryConversations()
    svc, _, _ = service(GREETING_REPLY, memory)

    first = message("t1")
    await svc.triggers.on_batch([first])
    await svc.triggers.on_batch([first])  # redelivered

    (logged,) = memory.messages.values()
    assert logged["direction"] == "inbound"
    assert logged["body"] == "text of t1"
    assert logged["provider_message_id"] == "SMt1"
    assert (logged["from"], logged["to"]) == ("+15550001111", "+15559990000")
    conversation = memory.conversations_by_id["ten_1:conv-1"]
    assert conversation["tenant_id"] == "ten_1"
    assert conversation["channel"] == "sms"
    assert conversation["contact_address"] == "+15550001111"
    assert conversation["status"] == "open"  # its run completed
    assert conversation["last_inbound_at"] == logged["created_at"]
    # the workflow's reply, asked for in the same pass: written with the insert
    assert conversation["last_message_at"] >= conversation["last_outbound_at"]
    assert conversation["last_outbound_at"] > logged["created_at"]


async def test_a_closed_conversation_reopens_on_the_customers_next_message() -> None:
    memory = MemoryConversations()
    svc, _, _ = service(GREETING_REPLY, memory)
    await svc.triggers.on_batch([message("t1")])
    memory.conversations_by_id["ten_1:conv-1"]["status"] = "closed"

    await svc.triggers.on_batch([message("t2")])

    conversation = memory.conversations_by_id["ten_1:conv-1"]
    assert conversation["status"] == "open"
    assert "reopened_at" in conversation


async def test_an_agents_conversation_keeps_its_status_while_runs_go_on() -> None:
    memory = MemoryConversations()
    svc, _, _ = service(GREETING_REPLY, memory)
    await svc.triggers.on_batch([message("t1")])
    memory.conversations_by_id["ten_1:conv-1"]["status"] = "with_agent"

    await svc.triggers.on_batch([message("t2")])

    assert memory.conversations_by_id["ten_1:conv-1"]["status"] == "with_agent"


async def test_the_status_follows_a_run_that_waits_for_the_customer() -> None:
    memory = MemoryConversations()
    svc, store, _ = service(ASKING, memory)

    await svc.triggers.on_batch([message("t1")])

    exe = store.executions[execution_id_for("t1", "wf_1")]
    assert exe["status"] == "waiting"
    assert memory.conversations_by_id["ten_1:conv-1"]["status"] == "waiting_on_customer"


async def test_the_contact_found_by_the_customers_address_is_the_customer() -> None:
    memory = MemoryConversations()
    memory.contacts_by_id["ct_1"] = {
        "_id": "ct_1",
        "name": "Ada Lovelace",
        "phone": "+15550001111",
        "attributes": {"plan": "pro"},
    }
    memory.addresses["ten_1:phone:+15550001111"] = "ct_1"
    svc, store, _ = service(COUNTING, memory)

    await svc.triggers.on_batch([message("t1")])

    doc = store.executions[execution_id_for("t1", "wf_1")]
    customer = json.loads(doc["trigger_json"])["customer"]
    assert customer == {
        "id": "ct_1",
        "name": "Ada Lovelace",
        "phone": "+15550001111",
        "metadata": {"plan": "pro"},
        "tags": [],
    }
    assert variables_of(store, "t1")["conversation"]["name"] == "Ada Lovelace"
    assert memory.conversations_by_id["ten_1:conv-1"]["contact_id"] == "ct_1"


async def test_what_the_trigger_says_of_the_customer_wins_over_the_profile() -> None:
    memory = MemoryConversations()
    memory.contacts_by_id["ct_1"] = {"_id": "ct_1", "name": "Old Name", "email": "a@x.io"}
    memory.addresses["ten_1:email:a@x.io"] = "ct_1"
    svc, store, _ = service(COUNTING, memory)

    await svc.triggers.on_batch([message("t1", name="New Name", email="A@x.io")])

    assert variables_of(store, "t1")["conversation"]["name"] == "New Name"


# -- routing policies: what a message does while the conversation has a run ---------------------


def busy_then_asking(**trigger_config: Any) -> Doc:
    """Busy on a lookup first, then waits for the customer and echoes the reply."""
    return chain(
        node("t", "trigger", "Incoming Message", **trigger_config),
        node("shop", "integration", "Shopify", action="getOrder", orderId="1", outputVariable="o"),
        node("wait", "advanced", "Wait for Reply"),
        node("echo", "action", "Send Reply", message="got: {{workflow.reply.text}}"),
    )


def commands_sent(sent: Sent, kind: type) -> list[Any]:
    return [e for topic, e in sent.events if topic.endswith("commands.v1") and isinstance(e, kind)]


async def deliver(svc: ExecutionService, sent: Sent, kind: type) -> None:
    """The commands of ``kind`` the service sent, consumed."""
    await svc.commands.on_batch([command(c) for c in commands_sent(sent, kind)])


async def settle_lookup(svc: ExecutionService, store: Store, trigger_id: str) -> None:
    exe = store.executions[execution_id_for(trigger_id, "wf_1")]
    (effect_id,) = exe["waiting_for"]
    await svc.commands.on_batch([command(settle(exe, effect_id, "#1"))])


def echoed(sent: Sent) -> list[str]:
    return [
        n.request["message"]
        for n in sent.of(NotificationRequested)
        if n.request["message"].startswith("got")
    ]


async def test_queue_a_message_for_a_busy_run_reaches_its_next_wait_for_reply() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(busy_then_asking(), memory)
    await svc.triggers.on_batch([message("t1")])
    run = execution_id_for("t1", "wf_1")
    assert memory.conversations_by_id["ten_1:conv-1"]["active_runs"] == {"wf_1": run}

    await svc.triggers.on_batch([message("t2")])  # the run is busy on its lookup

    assert execution_id_for("t2", "wf_1") not in store.executions  # no second run
    (queued,) = commands_sent(sent, MessageQueued)
    assert queued.execution_id == run
    await deliver(svc, sent, MessageQueued)
    await settle_lookup(svc, store, "t1")
    assert store.executions[run]["status"] == "completed"
    assert echoed(sent) == ["got: text of t2"]
    assert memory.conversations_by_id["ten_1:conv-1"]["active_runs"] == {}  # its end forgot it
    assert store.trigger_outcomes["t2"]["queued"] == [run]


async def test_queued_messages_within_the_burst_window_reach_the_run_as_one() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(busy_then_asking(burstSeconds=5), memory)
    await svc.triggers.on_batch([message("t1")])

    await svc.triggers.on_batch([message("t2"), message("t3")])
    await deliver(svc, sent, MessageQueued)
    await settle_lookup(svc, store, "t1")

    assert echoed(sent) == ["got: text of t2\ntext of t3"]


async def test_a_message_queued_for_a_run_that_ends_starts_the_next_run() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(LOOKUP, memory)  # busy, then ends without waiting
    await svc.triggers.on_batch([message("t1")])
    await svc.triggers.on_batch([message("t2")])
    await deliver(svc, sent, MessageQueued)
    sent.events.clear()

    await settle_lookup(svc, store, "t1")

    (passed_on,) = [e for t, e in sent.events if t.endswith("triggers.v1")]
    assert passed_on.trigger_id == "t2"
    await svc.triggers.on_batch([Envelope.wrap(passed_on, source="/test", tenant_id="ten_1")])
    assert execution_id_for("t2", "wf_1") in store.executions  # the next run


async def test_a_waiting_run_takes_the_message_as_its_reply() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(ASKING, memory)
    await svc.triggers.on_batch([message("t1")])

    await svc.triggers.on_batch([message("t2")])

    assert execution_id_for("t2", "wf_1") not in store.executions
    (answer,) = commands_sent(sent, EffectSettled)
    assert answer.result["text"] == "text of t2"


async def test_interrupt_cancels_the_run_and_starts_anew() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(busy_then_asking(whileRunning="interrupt"), memory)
    await svc.triggers.on_batch([message("t1")])

    await svc.triggers.on_batch([message("t2")])

    first, second = execution_id_for("t1", "wf_1"), execution_id_for("t2", "wf_1")
    (cancel,) = commands_sent(sent, ExecutionCancelRequested)
    assert cancel.execution_id == first
    assert second in store.executions
    assert memory.conversations_by_id["ten_1:conv-1"]["active_runs"] == {"wf_1": second}
    assert store.trigger_outcomes["t2"]["interrupted"] == [first]
    # what the trigger did is written before the run it started: GET /v1/triggers finds
    # both or neither (it answers as soon as it finds the run)
    last = store.calls[store.calls.index("trigger_outcomes:1") :]
    assert "create_many:1" in last
    await deliver(svc, sent, ExecutionCancelRequested)
    assert store.executions[first]["status"] == "cancelled"
    # the cancelled run's end does not forget the run that replaced it
    assert memory.conversations_by_id["ten_1:conv-1"]["active_runs"] == {"wf_1": second}


async def test_parallel_starts_a_run_per_message_and_resume_one_while_busy() -> None:
    for policy in ("parallel", "resume"):
        svc, store, sent = service(busy_then_asking(whileRunning=policy), MemoryConversations())
        await svc.triggers.on_batch([message("t1")])
        await svc.triggers.on_batch([message("t2")])
        assert execution_id_for("t2", "wf_1") in store.executions, policy
        assert commands_sent(sent, MessageQueued) == []


async def test_a_message_queued_for_a_run_that_has_just_ended_is_passed_on() -> None:
    svc, store, sent = service(LOOKUP, MemoryConversations())
    await svc.triggers.on_batch([message("t1")])
    await svc.triggers.on_batch([message("t2")])
    await settle_lookup(svc, store, "t1")  # ends before the queued message reaches it
    sent.events.clear()

    await deliver_again(svc, sent)

    (passed_on,) = [e for t, e in sent.events if t.endswith("triggers.v1")]
    assert passed_on.trigger_id == "t2"


async def deliver_again(svc: ExecutionService, sent: Sent) -> None:
    queued = MessageQueued(
        command_id="queued:t2:" + execution_id_for("t1", "wf_1"),
        execution_id=execution_id_for("t1", "wf_1"),
        tenant_id="ten_1",
        trigger=message("t2").data,
    )
    await svc.commands.on_batch([command(queued)])


# -- a phone call: the turns the caller hears ----------------------------------------------------

CALL = {
    "name": "call",
    "triggerType": "Incoming Call",
    "nodes": [
        node("t", "trigger", "Incoming Call"),
        node("hi", "action", "Send Reply", message="Hello, what is your order number?"),
        node("ask", "advanced", "Wait for Reply", timeoutSeconds=8),
        node("bye", "action", "Send Reply", message="Order {{workflow.reply.text}}, thanks."),
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "hi"},
        {"id": "e2", "source": "hi", "target": "ask"},
        {"id": "e3", "source": "ask", "target": "bye"},
    ],
}


def call_event(trigger_type: str, trigger_id: str, turn: int, **payload: Any) -> Envelope[Any]:
    event = TriggerReceived(
        trigger_id=trigger_id,
        tenant_id="ten_1",
        trigger_type=trigger_type,
        conversation_id="call-1",
        channel="voice",
        payload={"callSid": "CA1", "callTurn": f"CA1:{turn}", **payload},
        received_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="/test", tenant_id="ten_1")


async def test_a_call_hears_its_turns_and_the_execution_hangs_up_at_its_end() -> None:
    from contracts.events import CallTurn

    memory = MemoryConversations()
    svc, store, sent = service(CALL, memory)

    await svc.triggers.on_batch([call_event("Incoming Call", "c0", 0, **{"from": "+1555"})])

    (first,) = sent.of(CallTurn)
    assert first.answers == "CA1:0"
    assert first.verbs == [
        {"say": {"text": "Hello, what is your order number?"}},
        {"gather": {"timeout_seconds": 8}},
    ]
    assert sent.of(NotificationRequested) == []  # said on the call, not through the notifier
    sent.events.clear()

    await svc.triggers.on_batch([call_event("Incoming Message", "c1", 1, text="4 2")])
    await deliver(svc, sent, EffectSettled)

    (second,) = sent.of(CallTurn)
    assert second.answers == "CA1:1"
    assert second.verbs == [{"say": {"text": "Order 4 2, thanks."}}, {"hangup": {}}]
    assert store.executions[execution_id_for("c0", "wf_1")]["status"] == "completed"
    said = [m["body"] for m in memory.messages.values() if m["direction"] == "outbound"]
    assert sorted(said) == ["Hello, what is your order number?", "Order 4 2, thanks."]


async def test_a_redelivered_message_is_not_the_reply_of_the_run_it_started() -> None:
    for policy in ("queue", "resume", "interrupt"):
        memory = MemoryConversations()
        svc, store, sent = service(busy_then_asking(whileRunning=policy), memory)
        await svc.triggers.on_batch([message("t1")])
        run = execution_id_for("t1", "wf_1")
        await settle_lookup(svc, store, "t1")  # now it waits for the customer's reply
        sent.events.clear()

        await svc.triggers.on_batch([message("t1")])  # Kafka's redelivery, a webhook resent

        assert commands_sent(sent, EffectSettled) == [], policy  # not its own reply
        assert commands_sent(sent, MessageQueued) == [], policy
        assert commands_sent(sent, ExecutionCancelRequested) == [], policy
        assert store.executions[run]["status"] == "waiting", policy
        assert memory.conversations_by_id["ten_1:conv-1"]["active_runs"] == {"wf_1": run}


async def test_reply_waits_are_written_with_their_conversations_insert() -> None:
    memory = MemoryConversations()
    svc, _, _ = service(ASKING, memory)
    flush = await svc.triggers.plan([message(f"t{n}", conversation=f"conv-{n}") for n in range(3)])
    assert memory.conversations_by_id == {}  # not before the flush
    await flush()

    assert memory.calls.count("conversations") == 1  # one write, no collection of waits
    for n in range(3):
        conversation = memory.conversations_by_id[f"ten_1:conv-{n}"]
        (wait,) = conversation["reply_waits"].values()
        assert wait["execution_id"] == execution_id_for(f"t{n}", "wf_1")


def waits_in(memory: MemoryConversations, conversation: str = "conv-1") -> list[str]:
    doc = memory.conversations_by_id[f"ten_1:{conversation}"]
    return [w["execution_id"] for w in (doc.get("reply_waits") or {}).values()]


async def test_an_answered_wait_is_gone_from_its_conversation_and_its_execution() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(ASKING, memory)
    await svc.triggers.on_batch([message("t1")])
    run = execution_id_for("t1", "wf_1")
    assert waits_in(memory) == [run]
    assert list(store.executions[run]["reply_waits"].values()) == ["conv-1"]

    await svc.triggers.on_batch([message("t2")])

    assert waits_in(memory) == []  # released by the trigger that answered it
    assert len(commands_sent(sent, EffectSettled)) == 1
    await deliver(svc, sent, EffectSettled)
    assert store.executions[run]["reply_waits"] == {}
    assert store.executions[run]["status"] == "completed"


async def test_a_conversation_this_process_has_not_seen_is_not_read_unless_it_exists() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(ASKING, memory)
    await svc.triggers.on_batch([message("t1")])  # a new conversation: inserted, never read
    assert "read" not in memory.calls
    run = execution_id_for("t1", "wf_1")
    assert store.executions[run]["status"] == "waiting"

    memory.seen.clear()  # another process now (a restart, a rebalance)
    await svc.triggers.on_batch([message("t2")])

    # planned as new, found to exist by its insert: nothing written, planned again with it read
    assert memory.calls.count("planned_as_new_but_existed") == 1
    assert execution_id_for("t2", "wf_1") not in store.executions  # no second run
    (answer,) = commands_sent(sent, EffectSettled)
    assert answer.execution_id == run and answer.result["text"] == "text of t2"
    assert memory.calls.count("read") == 1
    assert waits_in(memory) == []  # the answered wait released


async def test_a_reply_names_the_addresses_of_the_message_that_started_its_run() -> None:
    svc, _, sent = service(ASKING, MemoryConversations())
    sms = message("t1")
    payload = {**sms.data.payload, "channel": "sms"}  # as the gateway's Twilio webhook says
    event = sms.data.model_copy(update={"payload": payload})
    await svc.triggers.on_batch([Envelope.wrap(event, source="/test", tenant_id="ten_1")])

    (reply,) = sent.of(NotificationRequested)
    assert reply.channel == "sms"
    # the notifier needs no read of the conversation to address it
    assert (reply.contact_address, reply.tenant_address) == ("+15550001111", "+15559990000")


async def test_a_batch_of_commands_reads_its_executions_at_once() -> None:
    svc, store, _ = service(LOOKUP)
    await svc.triggers.on_batch([trigger(f"t{n}") for n in range(3)])
    exes = [store.executions[execution_id_for(f"t{n}", "wf_1")] for n in range(3)]
    svc.forget()  # as in a process that did not write them
    in_flight, most = 0, 0
    read = store.get

    async def slow_get(execution_id: str) -> Doc | None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return await read(execution_id)

    store.get = slow_get  # type: ignore[method-assign]
    await svc.commands.on_batch([command(settle(e, e["waiting_for"][0], "#1")) for e in exes])

    assert most == 3  # not one round trip after the other
    assert all(store.executions[e["_id"]]["status"] == "completed" for e in exes)


async def test_a_message_planned_while_its_conversations_write_is_in_flight_waits_for_it() -> None:
    memory = MemoryConversations()
    svc, store, sent = service(busy_then_asking(), memory)
    flush_first = await svc.triggers.plan([message("t1")])  # starts the run; not written yet

    second = asyncio.create_task(svc.triggers.plan([message("t2")]))
    await asyncio.sleep(0.01)
    assert not second.done()  # it would read the conversation without the run in it
    await flush_first()
    await (await second)()

    # the second message found the run and was queued for it, not a second run
    assert execution_id_for("t2", "wf_1") not in store.executions
    (queued,) = commands_sent(sent, MessageQueued)
    assert queued.execution_id == execution_id_for("t1", "wf_1")


async def test_a_message_that_came_before_its_workflow_was_activated_starts_nothing() -> None:
    svc, store, _ = service(ASKING, MemoryConversations())
    early = message("t1")  # received now; the workflow is activated a moment later
    store.activated_at = datetime.now(UTC) + timedelta(seconds=1)
    await svc.triggers.on_batch([early])

    assert store.executions == {}
    (refused,) = store.trigger_outcomes["t1"]["not_started"]
    assert refused["reason"] == "the workflow was activated after the message came"


async def test_a_wait_that_timed_out_or_was_cancelled_is_gone_from_its_conversation() -> None:
    memory = MemoryConversations()
    svc, store, _ = service(ASKING, memory)
    await svc.triggers.on_batch([message("t1")])
    run = execution_id_for("t1", "wf_1")
    (effect_id,) = store.executions[run]["reply_waits"]
    timeout = EffectSettled(
        command_id=f"settle:{run}:reply-timeout:{effect_id}",
        execution_id=run,
        tenant_id="ten_1",
        effect_id=f"reply-timeout:{effect_id}",
        idempotency_key=f"{run}:reply-timeout:{effect_id}",
        result={"fired_at": datetime.now(UTC).isoformat()},
    )
    await svc.commands.on_batch([command(timeout)])
    assert waits_in(memory) == []
    assert store.executions[run]["reply_waits"] == {}

    await svc.triggers.on_batch([message("t2", conversation="conv-2")])
    second = execution_id_for("t2", "wf_1")
    assert waits_in(memory, "conv-2") == [second]
    cancel = ExecutionCancelRequested(
        command_id="cancel:1", execution_id=second, tenant_id="ten_1", reason="by test"
    )
    await svc.commands.on_batch([command(cancel)])
    assert store.executions[second]["status"] == "cancelled"
    assert waits_in(memory, "conv-2") == []


async def test_a_wait_is_answered_though_its_run_is_not_the_conversations_active_one() -> None:
    memory = MemoryConversations()
    svc, _, sent = service(ASKING, memory)
    await svc.triggers.on_batch([message("t1")])
    run = execution_id_for("t1", "wf_1")
    # a run the conversation does not list (another workflow's child, a run started by an
    # API event that named the conversation): only its wait is there
    memory.conversations_by_id["ten_1:conv-1"]["active_runs"] = {}

    await svc.triggers.on_batch([message("t2")])

    (answer,) = commands_sent(sent, EffectSettled)
    assert answer.execution_id == run and answer.result["text"] == "text of t2"
    assert waits_in(memory) == []


async def test_an_execution_another_process_wrote_since_is_planned_again_from_mongodb() -> None:
    svc, store, _ = service(LOOKUP)
    await svc.triggers.on_batch([trigger("t1")])
    exe = store.executions[execution_id_for("t1", "wf_1")]
    (effect_id,) = exe["waiting_for"]
    # another process (after a rebalance) moved it on: the copy this process keeps is stale
    store.executions[exe["_id"]] = {**exe, "version": exe["version"] + 1}

    with pytest.raises(AssertionError):  # the fake's version check, as ConcurrentUpdate
        await svc.commands.on_batch([command(settle(exe, effect_id, "#1"))])
    store.calls.clear()  # the failed flush forgot what this process had written
    await svc.commands.on_batch([command(settle(exe, effect_id, "#1"))])

    assert store.calls[0] == "get"  # read afresh
    assert store.executions[exe["_id"]]["status"] == "completed"
