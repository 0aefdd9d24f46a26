"""One trace per execution, as the services export it (OTLP/HTTP to the session's receiver): a
trigger, its wait and the resume after it are one trace, whether a timer or a customer's reply
resumes it; span names carry no ids; a failed node's span says it failed."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from contracts import topics
from otlp_receiver import ReceivedSpan, TraceReceiver

if TYPE_CHECKING:
    from conftest import TenantApi

pytestmark = pytest.mark.e2e

MESSAGING_KINDS = {"CONSUMER", "PRODUCER"}


def trigger_node() -> dict[str, Any]:
    return {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}}


def reply_node(message: str) -> dict[str, Any]:
    return {"id": "reply", "type": "action", "label": "Send Reply", "config": {"message": message}}


def chain(name: str, *nodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "triggerType": "Incoming Message",
        "nodes": list(nodes),
        "edges": [
            {"id": f"e{i}", "source": a["id"], "target": b["id"]}
            for i, (a, b) in enumerate(itertools.pairwise(nodes))
        ],
    }


def wait_node(duration: str) -> dict[str, Any]:
    return {"id": "wait", "type": "logic", "label": "Wait/Delay", "config": {"duration": duration}}


class Caller:
    """The client side of a trace: a span of our own, sent as the trigger's ``traceparent``."""

    def __init__(self) -> None:
        self.trace_id = secrets.token_hex(16)
        self.span_id = secrets.token_hex(8)

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"


async def post_message(
    api: TenantApi, text: str, *, conversation_id: str, traceparent: str | None
) -> str:
    """An incoming chat message, with our traceparent if given; the trigger id."""
    headers = dict(api.tenant.headers)
    if traceparent is not None:
        headers["traceparent"] = traceparent
    accepted = await api.http.post(
        "/v1/events/incoming_message",
        json={
            "conversation_id": conversation_id,
            "channel": "chat",
            "payload": {"text": text},
            "customer": {"name": "Ada"},
        },
        headers=headers,
    )
    assert accepted.status_code == 202, accepted.text
    trigger_id: str = accepted.json()["trigger_id"]
    return trigger_id


def named(spans: list[ReceivedSpan], service: str, name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.service == service and s.name == name]


def one(spans: list[ReceivedSpan], service: str, name: str) -> ReceivedSpan:
    found = named(spans, service, name)
    assert len(found) == 1, f"{service} {name!r}: {len(found)} spans: {list(map(str, spans))}"
    return found[0]


def command_span(
    spans: list[ReceivedSpan], command_type: str, execution_id: str
) -> list[ReceivedSpan]:
    return [
        s
        for s in named(spans, "executor", f"execution {command_type}")
        if s.attributes.get("connectflo.execution.id") == execution_id
    ]


def has(*wanted: tuple[str, str]) -> Callable[[list[ReceivedSpan]], bool]:
    """A trace holds a span of each (service, name)."""
    return lambda spans: all(named(spans, *w) for w in wanted)


def node_runs(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [s for s in spans if s.service == "executor" and s.name.startswith("node ")]


def assert_one_tree(spans: list[ReceivedSpan], root_parent: str) -> None:
    """Every span's parent is in the trace, but for the spans under the caller's own."""
    ids = {s.span_id for s in spans}
    orphans = [s for s in spans if s.parent_span_id not in ids | {root_parent}]
    assert orphans == [], list(map(str, orphans))


def assert_names_hold_no_ids(spans: list[ReceivedSpan], *ids: str) -> None:
    offending = [s.name for s in spans if any(i in s.name for i in ids)]
    assert offending == [], offending


def assert_messaging_spans_follow_the_conventions(spans: list[ReceivedSpan]) -> None:
    messaging = [s for s in spans if s.kind in MESSAGING_KINDS]
    for span in messaging:
        assert span.attributes.get("messaging.system") == "kafka", span
        topic = span.attributes.get("messaging.destination.name")
        assert topic in {t.name for t in topics.ALL_TOPICS}, span
        verb = "process" if span.kind == "CONSUMER" else "send"
        assert span.name == f"{verb} {topic}", span


def assert_node_spans_match_the_timeline(
    spans: list[ReceivedSpan], execution: dict[str, Any]
) -> None:
    """A `node <kind>` span per node run of the execution's timeline, with kind and status."""
    runs = node_runs(spans)
    for span in runs:
        assert span.name == "node " + span.attributes["connectflo.node.kind"], span
        assert span.attributes["connectflo.node.status"], span
    assert sorted(
        (s.attributes["connectflo.node.id"], s.attributes["connectflo.node.status"]) for s in runs
    ) == sorted((n["node_id"], n["status"]) for n in execution["timeline"])


async def test_a_trigger_its_timer_and_the_resume_are_one_trace(
    api: TenantApi, trace_receiver: TraceReceiver
) -> None:
    workflow_id = await api.activate(
        chain(
            "Follow up in a second",
            trigger_node(),
            wait_node("1s"),
            reply_node("Still there, {{customer.name}}?"),
        )
    )
    caller = Caller()
    trigger_id = await post_message(
        api, "thanks", conversation_id="conv-traced", traceparent=caller.traceparent
    )
    execution = await api.finished_execution(trigger_id)
    assert execution["status"] == "completed", execution

    spans = await asyncio.to_thread(
        trace_receiver.wait_for,
        caller.trace_id,
        has(
            ("trigger-gateway", "POST /v1/events/{trigger_type}"),
            ("executor", "execution ExecutionRequested"),
            ("executor", "execution EffectSettled"),
            ("scheduler", f"process {topics.TIMER_REQUESTS}"),
            ("scheduler", f"send {topics.EXECUTION_COMMANDS}"),
            ("notifier", f"process {topics.NOTIFICATION_REQUESTS}"),
            ("executor", "node action.send_reply"),
        ),
    )
    assert {s.service for s in spans} == {"trigger-gateway", "executor", "scheduler", "notifier"}
    assert_one_tree(spans, root_parent=caller.span_id)

    server = one(spans, "trigger-gateway", "POST /v1/events/{trigger_type}")
    assert server.kind == "SERVER" and server.parent_span_id == caller.span_id

    (start,) = command_span(spans, "ExecutionRequested", execution["id"])
    (resume,) = command_span(spans, "EffectSettled", execution["id"])
    # The timer requests (the Wait/Delay's and a waiting-time deadline) come with the start,
    # the deadline's cancel with the resume; the timer fires in the trace of its request.
    requests = named(spans, "scheduler", f"process {topics.TIMER_REQUESTS}")
    assert {s.kind for s in requests} == {"CONSUMER"}
    assert start.span_id in {s.parent_span_id for s in requests}
    fired = one(spans, "scheduler", f"send {topics.EXECUTION_COMMANDS}")
    assert fired.kind == "PRODUCER" and fired.parent_span_id == start.span_id
    assert fired.attributes["connectflo.execution.id"] == execution["id"]
    assert fired.span_id in {resume.parent_span_id, *(link.span_id for link in resume.links)}
    sent = one(spans, "notifier", f"process {topics.NOTIFICATION_REQUESTS}")
    assert sent.kind == "CONSUMER" and sent.parent_span_id == resume.span_id

    assert {s.parent_span_id for s in node_runs(spans)} == {start.span_id, resume.span_id}
    assert_node_spans_match_the_timeline(spans, execution)
    assert_messaging_spans_follow_the_conventions(spans)
    assert_names_hold_no_ids(
        spans, execution["id"], workflow_id, trigger_id, api.tenant.tenant_id, "conv-traced"
    )


async def test_a_customers_reply_resumes_the_execution_in_its_own_trace(
    api: TenantApi, trace_receiver: TraceReceiver
) -> None:
    await api.activate(
        chain(
            "Ask, then answer",
            trigger_node(),
            {"id": "ask", "type": "advanced", "label": "Wait for Reply", "config": {}},
            reply_node("You said {{workflow.reply.text}}"),
        )
    )
    caller = Caller()
    trigger_id = await post_message(
        api, "hello", conversation_id="conv-reply-traced", traceparent=caller.traceparent
    )
    await asyncio.to_thread(
        trace_receiver.wait_for, caller.trace_id, has(("executor", "execution ExecutionRequested"))
    )
    # The customer answers from a client that knows nothing of the first trace.
    reply_trigger_id = await post_message(
        api, "tomorrow", conversation_id="conv-reply-traced", traceparent=None
    )
    execution = await api.finished_execution(trigger_id)
    assert execution["status"] == "completed", execution

    spans = await asyncio.to_thread(
        trace_receiver.wait_for,
        caller.trace_id,
        has(
            ("executor", "execution EffectSettled"),
            ("notifier", f"process {topics.NOTIFICATION_REQUESTS}"),
        ),
    )
    (resume,) = command_span(spans, "EffectSettled", execution["id"])
    (start,) = command_span(spans, "ExecutionRequested", execution["id"])
    assert_one_tree(spans, root_parent=caller.span_id)
    assert {s.parent_span_id for s in node_runs(spans)} == {start.span_id, resume.span_id}
    assert_node_spans_match_the_timeline(spans, execution)

    (link,) = resume.links
    assert link.trace_id != caller.trace_id
    reply_trace = await asyncio.to_thread(
        trace_receiver.wait_for,
        link.trace_id,
        has(("trigger-gateway", "POST /v1/events/{trigger_type}")),
    )
    assert link.span_id in {s.span_id for s in reply_trace}, "linked to a span of the reply"
    assert [s for s in reply_trace if s.service == "executor"] == [], "no execution of its own"
    assert_names_hold_no_ids(spans + reply_trace, execution["id"], reply_trigger_id)


async def test_a_failed_node_run_has_an_error_status(
    api: TenantApi, trace_receiver: TraceReceiver
) -> None:
    await api.activate(
        chain("Wait as long as they say", trigger_node(), wait_node("{{trigger.text}}"))
    )
    caller = Caller()
    trigger_id = await post_message(
        api, "a fortnight or so", conversation_id="conv-failed", traceparent=caller.traceparent
    )
    execution = await api.finished_execution(trigger_id)
    assert execution["status"] == "failed", execution

    spans = await asyncio.to_thread(
        trace_receiver.wait_for, caller.trace_id, has(("executor", "node logic.wait_delay"))
    )
    failed = one(spans, "executor", "node logic.wait_delay")
    assert failed.attributes["connectflo.node.status"] == "failed"
    assert failed.status == "ERROR" and failed.status_message, failed
    trigger = one(spans, "executor", "node trigger.incoming_message")
    assert trigger.status == "UNSET"
