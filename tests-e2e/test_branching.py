"""A branching workflow through the public API: the condition picks one path, the timeline and
the events show exactly that path, and the customer gets that branch's reply."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from contracts import topics
from kafka_observer import KafkaObserver
from workflows import refund_router_workflow

pytestmark = pytest.mark.e2e

YES_PATH = [
    ("t", "completed", "out"),
    ("c", "completed", "yes"),
    ("set_refund", "completed", "out"),
    ("reply_refund", "waiting", None),  # for the notifier to deliver
    ("reply_refund", "completed", "out"),
]
NO_PATH = [
    ("t", "completed", "out"),
    ("c", "completed", "no"),
    ("set_other", "completed", "out"),
    ("reply_other", "waiting", None),
    ("reply_other", "completed", "out"),
]


def taken_path(execution: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(n["node_id"], n["status"], n["port"]) for n in execution["timeline"]]


async def test_condition_routes_each_message_down_one_branch(stack, api, mongo, tenant) -> None:
    await api.activate(refund_router_workflow())
    observer = KafkaObserver(
        stack.kafka, [topics.NODE_STEPS, topics.REPLIES], alive=stack.assert_alive
    )
    await observer.start()
    run = secrets.token_hex(3)
    cases = {  # conversation -> (text, customer, expected path, expected reply, route)
        f"refund-{run}": (
            "I want a refund for order 1042",
            "Ada",
            YES_PATH,
            "Sorry Ada, refunds will call.",
            "refunds",
        ),
        f"order-{run}": (
            "Where is my order?",
            "Grace",
            NO_PATH,
            "Thanks Grace, general answers.",
            "general",
        ),
    }
    try:
        trigger_ids = await asyncio.gather(
            *(
                api.message(text, conversation_id=conv, customer={"name": name})
                for conv, (text, name, *_rest) in cases.items()
            )
        )
        executions = await asyncio.gather(*(api.finished_execution(t) for t in trigger_ids))
        replies: dict[str, str] = {}
        for execution, (conv, (_text, _name, path, reply, route)) in zip(
            executions, cases.items(), strict=True
        ):
            assert execution["status"] == "completed", execution
            assert execution["conversation_id"] == conv
            assert taken_path(execution) == path, execution["timeline"]
            assert execution["executed_nodes"] == 4
            assert execution["variables"]["workflow"]["route"] == route
            assert execution["timeline"][3]["input"]["message"] == reply

            # The reply is fire-and-forget: the execution completes as the request goes out,
            # and the notifier records the delivery before it publishes ReplySent.
            mine = lambda m, e=execution: m.value.get("execution_id") == e["id"]  # noqa: E731
            sent = await observer.wait_for(lambda m, f=mine: f(m) and m.type == "ReplySent")
            assert {(m.key, m.value["message"]) for m in sent} == {(conv, reply)}
            stored = list(mongo.notifications.find({"execution_id": execution["id"]}))
            assert [(n["message"], n["status"]) for n in stored] == [(reply, "delivered")]
            replies[conv] = reply

            steps, _ = await observer.steps(execution["id"], count=len(path))
            assert [(s["node_id"], s["status"], s["port"]) for s in steps] == path
            assert execution["failed_nodes"] == 0, "no node failed: the counter says 0"
        assert len(set(replies.values())) == 2, "each branch answers with its own text"
    finally:
        await observer.stop()


async def test_message_without_the_field_takes_the_no_branch(stack, api, tenant) -> None:
    """A missing `trigger.text` reads as null: `contains` is false, never an error."""
    await api.activate(refund_router_workflow("Refund router (no text)"))
    accepted = await api.http.post(
        "/v1/events/incoming_message",
        json={"conversation_id": "no-text", "channel": "chat", "payload": {"orderId": "7"}},
        headers=tenant.headers,
    )
    assert accepted.status_code == 202, accepted.text
    execution = await api.finished_execution(accepted.json()["trigger_id"])
    assert execution["status"] == "completed", execution
    assert taken_path(execution) == NO_PATH
    # no customer was sent: the placeholder stays as written
    assert execution["timeline"][3]["input"]["message"] == (
        "Thanks {{customer.name}}, general answers."
    )
