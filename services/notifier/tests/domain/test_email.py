"""What an email request asks for, the thread a reply continues, and SendGrid's answers and
events as typed errors."""

from __future__ import annotations

from contracts.events import NotificationRequested
from notifier.domain.email import (
    EmailContent,
    email_content,
    is_email,
    message_id_header,
    problem,
    threaded,
)
from notifier.domain.email_errors import email_undelivered, sendgrid_refused
from notifier.domain.lifecycle import FAILED_STATUSES, Report, rank


def request(kind: str, body: dict[str, object], channel: str = "chat") -> NotificationRequested:
    return NotificationRequested(
        idempotency_key="exe_1:n:1:1",
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id="n:1:1",
        node_id="n",
        kind=kind,
        channel=channel,
        request=body,
    )


def test_send_email_reads_recipients_subject_and_an_html_body() -> None:
    content = email_content(
        request(
            "action.send_email",
            {"to": "a@x.test, b@x.test", "bcc": ["c@x.test"], "subject": "S", "body": "<b>Hi</b>"},
        )
    )
    assert content is not None
    assert content.to == ("a@x.test", "b@x.test") and content.bcc == ("c@x.test",)
    assert (content.html, content.text) == ("<b>Hi</b>", "Hi")


def test_only_email_replies_are_email() -> None:
    assert is_email(request("action.send_reply", {"channel": "email", "message": "x"}))
    assert not is_email(request("action.send_reply", {"channel": "sms", "message": "x"}))
    assert is_email(request("integration.sendgrid", {"action": "sendEmail", "params": {}}))


def test_a_reply_threads_under_the_last_email() -> None:
    last = {"provider_message_id": "<a@x>", "subject": "Help", "from": "ann@x.test"}
    reply = threaded(EmailContent(to=(), text="ok", reply=True), last)
    assert (reply.to, reply.subject, reply.in_reply_to) == (("ann@x.test",), "Re: Help", "<a@x>")
    again = threaded(EmailContent(to=(), text="ok"), {**last, "subject": "RE: Help"})
    assert again.subject == "RE: Help"


def test_what_cannot_be_sent() -> None:
    assert problem(EmailContent(to=())) is not None
    assert problem(EmailContent(to=("a@x.test",), text="b")) is not None  # no subject
    assert problem(EmailContent(to=("a@x.test",), template_id="d-1")) is None


def test_the_message_id_header_names_our_message_on_the_senders_host() -> None:
    assert message_id_header("msg_1", "support@acme.test") == "<msg_1@acme.test>"


def test_sendgrids_refusals() -> None:
    assert sendgrid_refused(403, []).type == "AuthenticationFailed"
    assert sendgrid_refused(413, ["too large"]).type == "InvalidMessage"
    assert sendgrid_refused(502, []).retryable is True
    assert sendgrid_refused(400, ["x"], 5.0).retry_after_seconds is None


def test_bounces_and_drops_are_failures_typed_by_reason() -> None:
    assert {"bounced", "dropped"} <= FAILED_STATUSES
    assert email_undelivered("bounced", "5.1.1", "no such user").type == "InvalidRecipient"
    assert email_undelivered("dropped", None, "Unsubscribed Address").type == (
        "RecipientUnsubscribed"
    )
    error = Report("e", "dropped", None, None, "Bounced Address")  # type: ignore[arg-type]
    assert error.error() is not None and error.error().type == "InvalidRecipient"  # type: ignore[union-attr]
    assert (
        rank("processed") < rank("deferred") < rank("delivered") < rank("opened") < rank("clicked")
    )
