"""One command applied to one execution document, with the real engine and no I/O."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from contracts import Envelope, topics
from contracts.events import EffectSettled, ExecutionRequested
from executor.runtime import engine
from executor.runtime.step import PermanentStepError, apply

WORKFLOW = {
    "name": "Greeting",
    "triggerType": "Incoming Message",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        {
            "id": "set",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.topic", "value": "{{trigger.text}}"},
        },
        {
            "id": "reply",
            "type": "action",
            "label": "Send Reply",
            "config": {"message": "Hello {{customer.name}}"},
        },
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "set"},
        {"id": "e2", "source": "set", "target": "reply"},
    ],
}


def clock() -> datetime:
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def new_doc() -> dict[str, Any]:
    return {
        "_id": "exe_1",
        "tenant_id": "ten_1",
        "workflow_id": "wf_1",
        "workflow_version": 1,
        "trigger_id": "trg_1",
        "trigger_type": "Incoming Message",
        "conversation_id": "conv-1",
        "channel": "chat",
        "trigger_json": json.dumps({"payload": {"text": "refund"}, "customer": {"name": "Ada"}}),
        "status": "created",
        "state_json": None,
        "version": 0,
        "outbox": [],
    }


def start_command() -> ExecutionRequested:
    return ExecutionRequested(command_id="start:exe_1", execution_id="exe_1", tenant_id="ten_1")


def outbox_events(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (entry["topic"], Envelope.parse(entry["headers"], entry["value"].encode()).data)
        for entry in doc["outbox"]
    ]


async def test_start_runs_to_the_reply_and_waits_for_the_notifier() -> None:
    workflow = engine.compile_workflow(WORKFLOW)
    applied = await apply(
        new_doc(), workflow, start_command(), now=clock, max_steps=100, traceparent=None
    )
    doc = applied.doc
    assert doc["status"] == "waiting" and doc["version"] == 1
    assert [run["node_id"] for run in applied.node_runs] == ["t", "set", "reply"]
    events = outbox_events(doc)
    types = [event.event_type for _topic, event in events]
    assert types == [
        "ExecutionStarted",
        "NodeStepped",
        "NodeStepped",
        "NodeStepped",
        "NotificationRequested",
    ]
    request_topic, request = events[-1]
    assert request_topic == topics.NOTIFICATION_REQUESTS
    assert request.request["message"] == "Hello Ada"
    assert request.idempotency_key.startswith("exe_1:reply:")
    assert all(entry["key"] == "exe_1" for entry in doc["outbox"])


async def test_settled_reply_completes_and_redelivery_changes_nothing() -> None:
    workflow = engine.compile_workflow(WORKFLOW)
    waiting = (
        await apply(
            new_doc(), workflow, start_command(), now=clock, max_steps=100, traceparent=None
        )
    ).doc
    request = outbox_events(waiting)[-1][1]
    settled = EffectSettled(
        command_id="settle:" + request.idempotency_key,
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id=request.effect_id,
        idempotency_key=request.idempotency_key,
        result={"status": "delivered"},
    )
    done = await apply(waiting, workflow, settled, now=clock, max_steps=100, traceparent=None)
    assert done.doc["status"] == "completed"
    assert done.doc["executed_nodes"] == 3  # the reply's waiting run does not count
    assert done.doc["total_nodes"] == 3
    assert outbox_events(done.doc)[-1][1].event_type == "ExecutionCompleted"
    assert json.loads(done.doc["variables_json"])["workflow"] == {"topic": "refund"}

    again = await apply(done.doc, workflow, settled, now=clock, max_steps=100, traceparent=None)
    assert not again.changed
    restart = await apply(
        done.doc, workflow, start_command(), now=clock, max_steps=100, traceparent=None
    )
    assert not restart.changed


async def test_a_trigger_the_workflow_lacks_is_a_permanent_error() -> None:
    workflow = engine.compile_workflow(WORKFLOW)
    doc = {**new_doc(), "trigger_type": "New Order"}
    with pytest.raises(PermanentStepError, match="New Order"):
        await apply(doc, workflow, start_command(), now=clock, max_steps=100, traceparent=None)


async def test_an_exhausted_step_budget_continues_in_a_command_to_itself() -> None:
    workflow = engine.compile_workflow(WORKFLOW)
    applied = await apply(
        new_doc(), workflow, start_command(), now=clock, max_steps=1, traceparent=None
    )
    assert applied.doc["status"] == "running"
    topic, event = outbox_events(applied.doc)[-1]
    assert topic == topics.EXECUTION_COMMANDS and event.event_type == "ExecutionRequested"
    assert event.command_id != "start:exe_1"
    resumed = await apply(applied.doc, workflow, event, now=clock, max_steps=100, traceparent=None)
    assert resumed.doc["status"] == "waiting"
    assert [run["node_id"] for run in resumed.node_runs] == ["set", "reply"]
    assert [run["seq"] for run in resumed.node_runs] == [2, 3]
