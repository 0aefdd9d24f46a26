"""The webhooks' decisions without I/O: which Kafka events become which webhook events, who is
subscribed, the retry schedule (back-off, jitter, caps) and what an answer means."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from contracts import Envelope
from contracts.conversations import inbound_message_id
from contracts.events import (
    DeliveryFailed,
    DeliveryStatusReported,
    ExecutionStarted,
    InboundMessage,
    ReplySent,
    TriggerReceived,
)
from contracts.webhooks import WebhookEvent
from notifier.domain.webhooks import (
    DELIVERED,
    FAILED,
    Attempt,
    Outcome,
    RetryPolicy,
    after_attempt,
    delivery_document,
    events_of,
    outcome_of,
    subscribed,
)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def wrapped(event):
    return Envelope.wrap(event, source="/test", tenant_id="ten_1").model_copy(update={"time": AT})


def trigger(message: InboundMessage | None) -> TriggerReceived:
    return TriggerReceived(
        trigger_id="trg_1",
        tenant_id="ten_1",
        trigger_type="Incoming Message",
        conversation_id="cnv_1",
        channel="sms",
        payload={"text": "hi"},
        customer={"phone": "+14155550199"},
        received_at=AT,
        message=message,
    )


def test_a_customers_message_is_message_received_with_its_log_id() -> None:
    message = InboundMessage(
        contact_address="+14155550199",
        tenant_address="+14155550100",
        body="where is my order?",
        provider="twilio",
        provider_message_id="SM1",
    )
    (event,) = events_of(wrapped(trigger(message)))
    assert (event.type, event.tenant_id, event.created_at) == ("message.received", "ten_1", AT)
    assert event.data["message_id"] == inbound_message_id("trg_1")
    assert event.data["body"] == "where is my order?" and event.data["direction"] == "inbound"
    assert (event.data["from"], event.data["to"]) == ("+14155550199", "+14155550100")
    assert event.data["conversation_id"] == "cnv_1" and event.data["provider_message_id"] == "SM1"
    # the same fact again (a redelivery, a trigger passed back to its topic): the same id
    assert events_of(wrapped(trigger(message)))[0].id == event.id


def test_a_trigger_without_a_message_and_other_events_are_no_webhook_event() -> None:
    assert events_of(wrapped(trigger(None))) == []
    started = ExecutionStarted(
        execution_id="exe_1",
        tenant_id="ten_1",
        workflow_id="wf_1",
        workflow_version=1,
        trigger_id="trg_1",
        started_at=AT,
    )
    assert events_of(wrapped(started)) == []


def test_replies_status_reports_and_failures_are_their_message_events() -> None:
    reply = ReplySent(
        notification_id="ntf_1",
        tenant_id="ten_1",
        conversation_id="cnv_1",
        execution_id="exe_1",
        message="Your order shipped",
        sent_at=AT,
        message_id="msg_1",
        channel="sms",
        provider_message_id="SM9",
    )
    report = DeliveryStatusReported(
        tenant_id="ten_1",
        provider="twilio",
        provider_message_id="SM9",
        status="delivered",
        reported_at=AT,
        event_id="twilio:SM9:delivered",
    )
    failed = DeliveryFailed(
        failure_id="msg_1:undelivered",
        tenant_id="ten_1",
        execution_id="exe_1",
        node_id="reply",
        notification_id="ntf_1",
        message_id="msg_1",
        conversation_id="cnv_1",
        channel="sms",
        provider="twilio",
        status="undelivered",
        error={"type": "RecipientUnreachable", "code": "30003"},
        failed_at=AT,
    )
    (sent,) = events_of(wrapped(reply))
    (status,) = events_of(wrapped(report))
    (gone,) = events_of(wrapped(failed))
    assert sent.type == "message.sent" and sent.data["body"] == "Your order shipped"
    assert (sent.data["message_id"], sent.data["provider_message_id"]) == ("msg_1", "SM9")
    assert status.type == "message.status_updated" and status.data["status"] == "delivered"
    assert status.data["provider_message_id"] == "SM9"
    assert gone.type == "message.failed" and gone.data["error"]["code"] == "30003"
    assert len({sent.id, status.id, gone.id}) == 3


def endpoint(**fields) -> dict:
    return {
        "_id": "whk_1",
        "tenant_id": "ten_1",
        "active": True,
        "event_types": ["message.received", "message.sent"],
        "created_at": AT - timedelta(minutes=1),
        **fields,
    }


def ping_like(kind: str = "message.sent", at: datetime = AT) -> WebhookEvent:
    return WebhookEvent(id="evt_1", type=kind, created_at=at, tenant_id="ten_1", data={})  # type: ignore[arg-type]


def test_only_active_endpoints_of_the_type_made_before_the_event_are_subscribed() -> None:
    assert subscribed(endpoint(), ping_like())
    assert not subscribed(endpoint(active=False), ping_like())
    assert not subscribed(endpoint(), ping_like("message.failed"))
    assert not subscribed(endpoint(), ping_like(at=AT - timedelta(hours=1)))


def test_the_delivery_keeps_the_exact_body_and_is_due_at_once() -> None:
    event = ping_like()
    doc = delivery_document(endpoint(), event, AT)
    assert json.loads(doc["body"]) == event.model_dump(mode="json")
    assert (doc["status"], doc["attempts"], doc["next_attempt_at"]) == ("pending", 0, AT)
    assert doc["_id"] == delivery_document(endpoint(), event, AT + timedelta(1))["_id"]


def test_the_back_off_doubles_with_jitter_in_its_upper_half_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=5, max_delay_seconds=3600)
    assert [policy.delay(n, 0.0) for n in (1, 2, 3, 4)] == [2.5, 5, 10, 20]
    assert [policy.delay(n, 0.999999) for n in (1, 2, 3)] == pytest.approx([5, 10, 20])
    assert policy.delay(20, 0.0) == 1800 and policy.delay(20, 0.999999) == pytest.approx(3600)
    assert policy.delay(10_000, 0.5) == 2700  # no overflow however many


def test_retries_stop_after_the_attempts_or_the_age_allowed() -> None:
    policy = RetryPolicy(base_seconds=5, max_attempts=3, max_age_seconds=600)
    assert policy.next_attempt(1, AT, AT, 0.0) == AT + timedelta(seconds=2.5)
    assert policy.next_attempt(3, AT, AT, 0.0) is None  # out of attempts
    late = AT + timedelta(seconds=599)
    assert policy.next_attempt(1, AT, late, 0.0) is None  # would come after the 600 s


@pytest.mark.parametrize(
    ("attempt", "outcome"),
    [
        (Attempt(200, 3.0), Outcome.DELIVERED),
        (Attempt(204, 3.0), Outcome.DELIVERED),
        (Attempt(410, 3.0), Outcome.DISABLE),
        (Attempt(400, 3.0), Outcome.RETRY),
        (Attempt(301, 3.0), Outcome.RETRY),
        (Attempt(500, 3.0), Outcome.RETRY),
        (Attempt(None, 10_000.0, "timeout: ReadTimeout"), Outcome.RETRY),
        (Attempt(None, 1.0, "refused: private", refused=True), Outcome.REFUSED),
    ],
)
def test_what_an_answer_means(attempt: Attempt, outcome: Outcome) -> None:
    assert outcome_of(attempt) is outcome


def test_an_attempt_sets_the_deliverys_status_count_and_next_time() -> None:
    policy = RetryPolicy(base_seconds=1, max_attempts=2)
    delivery = delivery_document(endpoint(), ping_like(), AT)
    outcome, fields = after_attempt(delivery, Attempt(500, 2.0), AT, policy, 0.0)
    assert outcome is Outcome.RETRY and fields["attempts"] == 1
    assert fields["next_attempt_at"] == AT + timedelta(seconds=0.5) and "status" not in fields
    delivery = {**delivery, **fields}
    _, fields = after_attempt(delivery, Attempt(503, 2.0), AT, policy, 0.0)
    assert (fields["status"], fields["attempts"], fields["next_attempt_at"]) == (FAILED, 2, None)
    _, fields = after_attempt(delivery, Attempt(200, 2.0), AT, policy, 0.0)
    assert (fields["status"], fields["delivered_at"]) == (DELIVERED, AT)
    _, fields = after_attempt(delivery, Attempt(410, 2.0), AT, policy, 0.0)
    assert fields["status"] == FAILED and fields["last_status_code"] == 410
