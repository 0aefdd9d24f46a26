"""``POST /v3/mail/send`` as SendGrid's v3 reference describes it: Bearer auth, the request's
required fields checked with SendGrid's error messages (all of them at once, as SendGrid
answers), 413 over the size limit, 202 with an empty body and ``X-Message-Id``; the mail's
events follow (delivery.py)."""

import json
import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from .errors import HELP, Problem, SendGridApiError
from .state import Account, SendGridState, SentMail

EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)


def _address(value: Any, field: str, problems: list[Problem]) -> None:
    email = value.get("email") if isinstance(value, dict) else None
    if not isinstance(email, str) or not email:
        problems.append(Problem("The email parameter is required.", field + ".email"))
    elif not EMAIL.match(email):
        problems.append(Problem("Does not contain a valid address.", field + ".email"))


def validate(body: Any) -> list[Problem]:
    """What SendGrid refuses in a Mail Send request, as it words it."""
    if not isinstance(body, dict):
        return [Problem("Bad Request")]
    problems: list[Problem] = []
    template = body.get("template_id")
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        problems.append(
            Problem(
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                HELP + "#-Personalizations-Errors",
            )
        )
        personalizations = []
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        problems.append(
            Problem("You may not have more than 1000 personalizations.", "personalizations")
        )
    recipients = 0
    for i, p in enumerate(personalizations):
        field = f"personalizations.{i}"
        if not isinstance(p, dict):
            problems.append(Problem("Invalid type. Expected: object.", field))
            continue
        to = p.get("to")
        if not isinstance(to, list) or not to:
            problems.append(
                Problem(
                    "The to array is required for all personalization objects, and must have "
                    "at least one email object with a valid email address.",
                    field + ".to",
                    HELP + "#message.personalizations.to",
                )
            )
            to = []
        for kind in ("to", "cc", "bcc"):
            listed = to if kind == "to" else p.get(kind) or []
            for j, address in enumerate(listed if isinstance(listed, list) else []):
                _address(address, f"{field}.{kind}.{j}", problems)
                recipients += 1
    if recipients > MAX_RECIPIENTS:
        problems.append(
            Problem("The total number of recipients must be no more than 1000.", "personalizations")
        )
    sender = body.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        problems.append(
            Problem(
                "The from object must be provided for every email send. It is an object that "
                "requires the email parameter, but may also contain a name parameter.",
                "from.email",
                HELP + "#message.from",
            )
        )
    else:
        _address(sender, "from", problems)
    if body.get("reply_to") is not None:
        _address(body["reply_to"], "reply_to", problems)
    every_subject = bool(personalizations) and all(
        isinstance(p, dict) and p.get("subject") for p in personalizations
    )
    if not template and not body.get("subject") and not every_subject:
        problems.append(
            Problem(
                "The subject is required. You can get around this requirement if you use a "
                "template with a subject defined or if every personalization has a subject "
                "defined.",
                "subject",
                HELP + "#message.subject",
            )
        )
    content = body.get("content")
    if not template and (not isinstance(content, list) or not content):
        problems.append(
            Problem(
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block. We typically suggest both "
                "text/plain and text/html blocks are included, but only one block is required.",
                "content",
                HELP + "#message.content",
            )
        )
    for i, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, dict) or not block.get("value"):
            problems.append(
                Problem(
                    "The content value must be a string at least one character in length.",
                    f"content.{i}.value",
                    HELP + "#message.content.value",
                )
            )
    headers = body.get("headers") or {}
    for name, value in headers.items() if isinstance(headers, dict) else []:
        if name.lower() in RESERVED_HEADERS:
            problems.append(
                Problem(f"The {name} header is reserved and cannot be set.", f"headers.{name}")
            )
        elif not isinstance(value, str):
            problems.append(Problem("Invalid type. Expected: string.", f"headers.{name}"))
    custom_args = body.get("custom_args") or {}
    if isinstance(custom_args, dict):
        for name, value in custom_args.items():
            if not isinstance(value, str):
                problems.append(Problem("Invalid type. Expected: string.", f"custom_args.{name}"))
        if len(json.dumps(custom_args).encode()) > MAX_CUSTOM_ARGS_BYTES:
            problems.append(Problem("The custom_args may not exceed 10,000 bytes.", "custom_args"))
    for i, attachment in enumerate(body.get("attachments") or []):
        if not isinstance(attachment, dict) or not attachment.get("content"):
            problems.append(
                Problem("The attachment content is required.", f"attachments.{i}.content")
            )
        elif not attachment.get("filename"):
            problems.append(
                Problem("The attachment filename is required.", f"attachments.{i}.filename")
            )
    return problems


def message_id() -> str:
    """SendGrid's X-Message-Id: 22 characters of URL-safe base64."""
    return secrets.token_urlsafe(16)[:22]


def mail_send_router(
    state: SendGridState,
    guard: Callable[[Request], Account],
    max_bytes: int,
    accepted: Callable[[SentMail], None],
) -> APIRouter:
    router = APIRouter(tags=["sendgrid"])
    Guarded = Annotated[Account, Depends(guard)]

    @router.post("/v3/mail/send", status_code=202)
    async def mail_send(request: Request, account: Guarded) -> Response:
        raw = await request.body()
        if len(raw) > max_bytes:
            raise SendGridApiError(
                413,
                [Problem("The JSON payload you have included in your request is too large.")],
            )
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise SendGridApiError(400, [Problem("Bad Request")]) from None
        if problems := validate(body):
            raise SendGridApiError(400, problems)
        mail = SentMail(message_id(), account.account_id, body)
        state.mails[mail.message_id] = mail
        accepted(mail)
        return Response(status_code=202, headers={"X-Message-Id": mail.message_id})

    return router
