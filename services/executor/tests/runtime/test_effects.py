"""What an effect becomes, decided without the execution document being touched."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Envelope
from contracts.events import (
    EffectSettled,
    IntegrationRequested,
    NotificationRequested,
    TimerRequested,
)
from executor.runtime import effects, engine_port
from executor.runtime.effects import AwaitReply, StartChild

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DOC: dict[str, Any] = {
    "_id": "exe_1",
    "tenant_id": "ten_1",
    "channel": "sms",
    "conversation_id": "conv-1",
    "timers": ["exe_1:deadline:1"],
    "delayed": {},
}


def effect(target: engine_port.EffectTarget, kind: str, **fields: Any) -> engine_port.Effect:
    values: dict[str, Any] = {
        "effect_id": "n:1:1",
        "node_id": "n",
        "kind": kind,
        "target": target,
        "request": {},
        "awaits_result": True,
        "delay_seconds": 0.0,
        **fields,
    }
    return engine_port.Effect(**values)


def decide(e: engine_port.Effect, max_depth: int = 5) -> effects.Request:
    doc = copy.deepcopy(DOC)
    request = effects.request(doc, e, lambda: NOW, max_depth)
    assert doc == DOC  # a decision, not a change
    return request


def test_a_request_to_another_service_is_a_message_with_the_idempotency_key() -> None:
    request = decide(effect(engine_port.EffectTarget.INTEGRATIONS, "integration.shopify"))
    (message,) = request.messages
    assert isinstance(message.event, IntegrationRequested)
    assert message.event.idempotency_key == "exe_1:n:1:1"
    assert (request.timers, request.held, request.action, request.answer) == ([], None, None, None)


def test_a_fire_and_forget_reply_goes_on_at_once_on_the_executions_channel() -> None:
    e = effect(engine_port.EffectTarget.NOTIFIER, "action.send_reply", awaits_result=False)
    request = decide(e)
    (message,) = request.messages
    assert isinstance(message.event, NotificationRequested) and message.event.channel == "sms"
    assert request.answer == ("n:1:1", None)


def test_a_retry_holds_the_request_back_and_asks_for_its_delay_timer() -> None:
    e = effect(engine_port.EffectTarget.INTEGRATIONS, "integration.shopify", delay_seconds=5.0)
    request = decide(e)
    (delay,) = request.messages
    assert isinstance(delay.event, TimerRequested)
    assert delay.event.effect_id == "delay:n:1:1" and delay.event.fire_at == NOW + timedelta(
        seconds=5
    )
    assert request.timers == ["exe_1:delay:n:1:1"]
    assert request.held is not None
    effect_id, entry = request.held
    held = Envelope.parse(entry["headers"], entry["value"].encode()).data
    assert effect_id == "n:1:1" and isinstance(held, IntegrationRequested)
    assert "traceparent" not in entry["headers"]


def test_a_wait_for_reply_is_an_action_and_its_timeout_a_tracked_timer() -> None:
    e = effect(
        engine_port.EffectTarget.EXECUTOR,
        effects.WAIT_FOR_REPLY,
        request={"timeout_seconds": 30},
    )
    request = decide(e)
    assert request.action == AwaitReply("exe_1", "n:1:1")
    assert request.timers == ["exe_1:reply-timeout:n:1:1"]
    assert request.messages[0].event.fire_at == NOW + timedelta(seconds=30)  # type: ignore[attr-defined]


def test_a_child_is_started_unless_too_deep() -> None:
    e = effect(
        engine_port.EffectTarget.EXECUTOR,
        effects.EXECUTE_WORKFLOW,
        request={"workflowId": "wf_2", "waitForCompletion": False},
    )
    started = decide(e)
    assert isinstance(started.action, StartChild) and started.action.depth == 1
    assert started.answer == ("n:1:1", {"executionId": started.action.child_id})
    refused = decide(e, max_depth=0)
    assert refused.action is None
    (message,) = refused.messages
    assert isinstance(message.event, EffectSettled)
    assert message.event.error == {
        "type": "SubWorkflowRefused",
        "message": "sub-workflow depth limit of 0 reached",
    }


def test_only_a_child_its_parent_waits_for_answers_it() -> None:
    child = {"_id": "exe_c", "tenant_id": "ten_1"}
    assert effects.parent_answer(child, "completed", {}, None) is None
    waited = {**child, "parent": {"execution_id": "exe_p", "effect_id": "s:1:1", "wait": True}}
    answer = effects.parent_answer(waited, "failed", None, {"message": "boom"})
    assert answer is not None and answer.key == "exe_p"
    assert isinstance(answer.event, EffectSettled) and answer.event.error == {
        "type": "SubWorkflowFailed",
        "executionId": "exe_c",
        "message": "boom",
    }


def test_a_re_prompted_wait_says_its_prompt_on_the_channel_then_waits() -> None:
    e = effect(
        engine_port.EffectTarget.EXECUTOR,
        effects.WAIT_FOR_REPLY,
        effect_id="w:1:2",
        request={"conversationId": "conv-1", "prompt": "Digits only, please"},
    )
    request = decide(e)
    (prompt,) = request.messages
    assert isinstance(prompt.event, NotificationRequested)
    assert prompt.event.kind == "action.send_reply"
    assert prompt.event.channel == "sms"
    assert prompt.event.request == {"message": "Digits only, please"}
    assert prompt.event.idempotency_key == "exe_1:w:1:2"  # each re-prompt its own
    assert prompt.event.awaits_result is False
    assert request.action == AwaitReply("conv-1", "w:1:2")
