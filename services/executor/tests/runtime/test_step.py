"""Commands applied to one execution document, with the real engine and no I/O."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from contracts import Envelope, topics
from contracts.envelope import NO_TRACE
from contracts.events import (
    EffectSettled,
    ExecutionCancelRequested,
    ExecutionRequested,
    ExecutionRetryRequested,
)
from executor.adapters.execution_documents import node_runs_document
from executor.runtime import engine_port
from executor.runtime.effects import AwaitReply, ReleaseReplies, StartChild
from executor.runtime.step import Limits, PermanentStepError, apply

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def node(node_id: str, node_type: str, label: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "label": label, "config": config}


def chain(*nodes: dict[str, Any], edges: list[tuple[str, ...]] | None = None) -> dict[str, Any]:
    pairs = edges or [(a["id"], b["id"]) for a, b in itertools.pairwise(nodes)]
    return {
        "name": "test",
        "triggerType": "Incoming Message",
        "nodes": list(nodes),
        "edges": [
            {
                "id": f"e{i}",
                "source": e[0],
                "target": e[1],
                **({"label": e[2]} if len(e) > 2 else {}),
            }
            for i, e in enumerate(pairs)
        ],
    }


TRIGGER = node("t", "trigger", "Incoming Message")
GREETING = chain(
    TRIGGER,
    node("set", "action", "Set Variable", path="workflow.topic", value="{{trigger.text}}"),
    node("reply", "action", "Send Reply", message="Hello {{customer.name}}"),
)
LOOKUP = chain(
    TRIGGER,
    node(
        "shop",
        "integration",
        "Shopify",
        action="getOrder",
        orderId="1",
        outputVariable="order",
        retry={"maxAttempts": 2, "backoffSeconds": 5},
    ),
    node("reply", "action", "Send Reply", message="Order {{workflow.order.name}}"),
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def new_doc(**extra: Any) -> dict[str, Any]:
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
        **extra,
    }


START = ExecutionRequested(command_id="start:exe_1", execution_id="exe_1", tenant_id="ten_1")


def settle(
    effect_id: str, *, result: Any = None, error: Any = None, tag: str = ""
) -> EffectSettled:
    return EffectSettled(
        command_id=f"settle:{effect_id}{tag}",
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id=effect_id,
        idempotency_key=f"exe_1:{effect_id}",
        result=result,
        error=error,
    )


def events(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (entry["topic"], Envelope.parse(entry["headers"], entry["value"].encode()).data)
        for entry in doc["outbox"]
    ]


def of_type(doc: dict[str, Any], name: str) -> list[Any]:
    return [event for _topic, event in events(doc) if event.event_type == name]


async def run(doc, definition, command, clock=None, **limits: Any):  # type: ignore[no-untyped-def]
    return await apply(
        doc,
        engine_port.compile_workflow(definition),
        command,
        now=clock or Clock(),
        limits=Limits(**limits),
        trace=NO_TRACE,
    )


async def test_a_reply_goes_out_and_the_execution_completes_in_one_command() -> None:
    applied = await run(new_doc(), GREETING, START)
    doc = applied.doc
    assert doc["status"] == "completed" and doc["version"] == 1
    assert doc["executed_nodes"] == 3 and doc["total_nodes"] == 3
    assert [(r["node_id"], r["status"]) for r in applied.node_runs] == [
        ("t", "completed"),
        ("set", "completed"),
        ("reply", "waiting"),
        ("reply", "completed"),
    ]
    (request,) = of_type(doc, "NotificationRequested")
    assert request.request["message"] == "Hello Ada"
    assert request.awaits_result is False
    assert request.idempotency_key.startswith("exe_1:reply:")
    assert events(doc)[0][1].event_type == "ExecutionStarted"
    assert [e.event_type for _t, e in events(doc)][-1] == "ExecutionCompleted"
    assert all(entry["key"] == "exe_1" for entry in doc["outbox"])
    assert json.loads(doc["variables_json"])["workflow"] == {"topic": "refund"}


async def test_the_runs_of_one_command_are_stored_as_one_document() -> None:
    applied = await run(new_doc(), GREETING, START)
    stored = node_runs_document(applied.node_runs)
    assert stored["_id"] == applied.node_runs[0]["_id"] == "exe_1:000001"
    assert (stored["execution_id"], stored["tenant_id"]) == ("exe_1", "ten_1")
    assert (stored["seq"], stored["last_seq"]) == (1, 4)
    runs = json.loads(stored["runs_json"])
    assert [(r["seq"], r["node_id"]) for r in runs] == [
        (1, "t"),
        (2, "set"),
        (3, "reply"),
        (4, "reply"),
    ]
    assert runs[2]["input"]["message"] == "Hello Ada"
    assert datetime.fromisoformat(runs[0]["started_at"]) == applied.node_runs[0]["started_at"]
    # the only fields MongoDB sees: payload keys with '.' or '$' stay inside the text
    assert set(stored) == {
        "_id",
        "execution_id",
        "tenant_id",
        "workflow_id",
        "seq",
        "last_seq",
        "runs_json",
    }


async def test_a_redelivered_start_or_finished_execution_changes_nothing() -> None:
    done = (await run(new_doc(), GREETING, START)).doc
    assert not (await run(done, GREETING, START)).changed
    assert not (await run(done, GREETING, settle("reply:1:1"))).changed


async def test_integration_result_resumes_the_path_once() -> None:
    waiting = (await run(new_doc(), LOOKUP, START)).doc
    assert waiting["status"] == "waiting"
    (request,) = of_type(waiting, "IntegrationRequested")
    assert request.request["integration"] == "shopify"
    (waited,) = of_type(waiting, "ExecutionWaiting")
    assert [(w.node_id, w.kind) for w in waited.waiting_for] == [("shop", "integration.shopify")]
    assert of_type(waiting, "TimerRequested")[0].effect_id == "deadline:1"

    answer = settle(request.effect_id, result={"name": "#1042"})
    done = (await run(waiting, LOOKUP, answer)).doc
    assert done["status"] == "completed"
    assert of_type(done, "NotificationRequested")[0].request["message"] == "Order #1042"
    assert [t.idempotency_key for t in of_type(done, "TimerCancelRequested")] == [
        "exe_1:deadline:1"
    ]
    again = await run(done, LOOKUP, settle(request.effect_id, result={}, tag="again"))
    assert not again.changed


async def test_a_failed_attempt_is_retried_after_its_back_off_through_the_scheduler() -> None:
    clock = Clock()
    waiting = (await run(new_doc(), LOOKUP, START, clock)).doc
    first = of_type(waiting, "IntegrationRequested")[0]
    failed = (
        await run(waiting, LOOKUP, settle(first.effect_id, error={"message": "503"}), clock)
    ).doc
    assert of_type(failed, "IntegrationRequested") == []  # not yet: after the back-off
    (delay,) = [t for t in of_type(failed, "TimerRequested") if t.effect_id.startswith("delay:")]
    assert delay.fire_at == NOW + timedelta(seconds=5)
    released = (await run(failed, LOOKUP, settle(delay.effect_id, tag="t"), clock)).doc
    (second,) = of_type(released, "IntegrationRequested")
    assert second.effect_id != first.effect_id and second.idempotency_key.endswith(":2")


async def test_a_failure_opens_an_incident_that_retry_resolves() -> None:
    waiting = (await run(new_doc(), LOOKUP, START)).doc
    effect = of_type(waiting, "IntegrationRequested")[0].effect_id
    failed = (await run(waiting, LOOKUP, settle(effect, error={"message": "down"}))).doc
    (delay,) = [t for t in of_type(failed, "TimerRequested") if t.effect_id.startswith("delay:")]
    failed = (await run(failed, LOOKUP, settle(delay.effect_id, tag="t"))).doc
    second = of_type(failed, "IntegrationRequested")[0].effect_id
    failed = (await run(failed, LOOKUP, settle(second, error={"message": "still down"}))).doc
    assert failed["status"] == "failed"
    assert failed["incident"]["status"] == "open" and failed["incident"]["node_id"] == "shop"
    assert of_type(failed, "ExecutionFailed")[0].message == "still down"

    retry = ExecutionRetryRequested(command_id="retry-1", execution_id="exe_1", tenant_id="ten_1")
    retried = (await run(failed, LOOKUP, retry)).doc
    assert retried["status"] == "waiting" and retried["incident"]["status"] == "resolved"
    third = of_type(retried, "IntegrationRequested")[0]
    done = (await run(retried, LOOKUP, settle(third.effect_id, result={"name": "#1"}))).doc
    assert done["status"] == "completed"


async def test_cancel_stops_the_execution_and_its_timers() -> None:
    waiting = (await run(new_doc(), LOOKUP, START)).doc
    cancel = ExecutionCancelRequested(command_id="c1", execution_id="exe_1", tenant_id="ten_1")
    applied = await run(waiting, LOOKUP, cancel)
    assert applied.doc["status"] == "cancelled"
    assert of_type(applied.doc, "ExecutionCancelled")[0].reason
    assert of_type(applied.doc, "TimerCancelRequested")[0].idempotency_key == "exe_1:deadline:1"
    assert ReleaseReplies(effect_id=None) in applied.actions
    late = of_type(waiting, "IntegrationRequested")[0].effect_id
    assert not (await run(applied.doc, LOOKUP, settle(late, result={}))).changed


async def test_the_waiting_time_limit_fails_a_stuck_execution() -> None:
    waiting = (await run(new_doc(), LOOKUP, START, max_waiting_seconds=60)).doc
    (deadline,) = [t for t in of_type(waiting, "TimerRequested") if t.effect_id == "deadline:1"]
    assert deadline.fire_at == NOW + timedelta(seconds=60)
    failed = (await run(waiting, LOOKUP, settle("deadline:1"), max_waiting_seconds=60)).doc
    assert failed["status"] == "failed" and "waiting time limit" in failed["error"]["message"]


async def test_wait_for_reply_registers_a_wait_with_a_timeout() -> None:
    definition = chain(
        TRIGGER,
        node("ask", "advanced", "Wait for Reply", timeoutSeconds=30),
        node("reply", "action", "Send Reply", message="You said {{workflow.reply.text}}"),
    )
    waiting = await run(new_doc(), definition, START)
    (wait,) = [a for a in waiting.actions if isinstance(a, AwaitReply)]
    assert wait.conversation_id == "conv-1"
    timeout = [t for t in of_type(waiting.doc, "TimerRequested") if t.effect_id.startswith("reply")]
    assert timeout[0].fire_at == NOW + timedelta(seconds=30)
    answered = (
        await run(waiting.doc, definition, settle(wait.effect_id, result={"text": "yes"}))
    ).doc
    assert of_type(answered, "NotificationRequested")[0].request["message"] == "You said yes"


async def test_a_handoff_request_carries_the_instant_its_timeout_fires() -> None:
    definition = chain(
        TRIGGER,
        node("h", "advanced", "Human Handoff", queue="support", timeoutSeconds=4),
    )
    waiting = await run(new_doc(), definition, START)
    (handoff,) = of_type(waiting.doc, "NotificationRequested")
    (timer,) = [
        t for t in of_type(waiting.doc, "TimerRequested") if t.effect_id.startswith("reply")
    ]
    # the router records this deadline, so the item reads expired once the timer has fired
    assert datetime.fromisoformat(handoff.request["deadline"]) == timer.fire_at


async def test_execute_workflow_starts_a_child_and_a_child_answers_its_parent() -> None:
    definition = chain(
        TRIGGER,
        node(
            "sub",
            "advanced",
            "Execute Workflow",
            workflowId="wf_child",
            input={"x": 1},
            outputVariable="child",
        ),
        node("reply", "action", "Send Reply", message="child says {{workflow.child.answer}}"),
    )
    parent = await run(new_doc(), definition, START)
    (child,) = [a for a in parent.actions if isinstance(a, StartChild)]
    assert child.wait and child.depth == 1 and child.input == {"x": 1}
    answer = settle(child.parent_effect_id, result={"answer": 42})
    done = (await run(parent.doc, definition, answer)).doc
    assert of_type(done, "NotificationRequested")[0].request["message"] == "child says 42"

    child_doc = new_doc(
        _id=child.child_id,
        parent={"execution_id": "exe_1", "effect_id": child.parent_effect_id, "wait": True},
        depth=1,
    )
    child_start = ExecutionRequested(
        command_id="start:c", execution_id=child.child_id, tenant_id="ten_1"
    )
    finished = (await run(child_doc, GREETING, child_start)).doc
    (to_parent,) = of_type(finished, "EffectSettled")
    assert to_parent.execution_id == "exe_1" and to_parent.result["topic"] == "refund"


async def test_the_depth_limit_refuses_a_too_deep_sub_workflow() -> None:
    definition = chain(TRIGGER, node("sub", "advanced", "Execute Workflow", workflowId="wf_x"))
    applied = await run(new_doc(depth=2), definition, START, max_depth=2)
    assert not [a for a in applied.actions if isinstance(a, StartChild)]
    (refused,) = of_type(applied.doc, "EffectSettled")
    assert refused.error["type"] == "SubWorkflowRefused"


async def test_a_trigger_the_workflow_lacks_is_a_permanent_error() -> None:
    with pytest.raises(PermanentStepError, match="New Order"):
        await run(new_doc(trigger_type="New Order"), GREETING, START)


async def test_an_exhausted_step_budget_continues_in_a_command_to_itself() -> None:
    applied = await run(new_doc(), GREETING, START, max_steps=1)
    assert applied.doc["status"] == "running"
    topic, event = events(applied.doc)[-1]
    assert topic == topics.EXECUTION_COMMANDS and event.event_type == "ExecutionRequested"
    assert event.command_id != "start:exe_1"
    resumed = await run(applied.doc, GREETING, event)
    assert resumed.doc["status"] == "completed"
    assert [run["seq"] for run in resumed.node_runs] == [2, 3, 4]
