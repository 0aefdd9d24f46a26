"""Errors at the HTTP edge as RFC 9457 problem details (``application/problem+json``): type,
title, status, detail and ``errors[]`` naming each field or node that is wrong. One shape for
every service; the gateway adds FastAPI's errors and its request guard on top."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from http import HTTPStatus

from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 5
ABOUT_BLANK = "about:blank"
INVALID_REQUEST = "urn:connectflo:problem:invalid-request"
INVALID_WORKFLOW = "urn:connectflo:problem:invalid-workflow"
TOO_LARGE = "urn:connectflo:problem:body-too-large"
UNAVAILABLE = "urn:connectflo:problem:unavailable"


class FieldError(BaseModel):
    """One thing wrong with the request."""

    name: str = Field(
        description="Where: `body.conversation_id`, `query.limit`, `header.x-api-key`, `path`, "
        "or in a workflow `body.nodes[3].config.operator`."
    )
    reason: str
    node_id: str | None = Field(
        default=None, description="For a workflow's problems: the node it is about."
    )


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str = Field(
        description="`about:blank` (the status says it all), or "
        "`urn:connectflo:problem:{invalid-request, invalid-workflow, body-too-large, "
        "unavailable}`."
    )
    title: str = Field(description="The status's phrase.")
    status: int
    detail: str = Field(description="What happened, for a person.")
    errors: list[FieldError] = Field(
        default_factory=list, description="Each field or node that is wrong (422)."
    )


def problem_response(
    status: int,
    detail: str,
    *,
    errors: Iterable[FieldError] = (),
    type_: str = ABOUT_BLANK,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> Response:
    """The answer: ASCII-only JSON, so whatever a detail quotes can always be sent; 401 says
    how to authenticate, 503 when to retry. ``extra``: more members of the problem."""
    body = {
        "type": type_,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "errors": [e.model_dump(exclude_none=True) for e in errors],
        **extra,
    }
    sent = dict(headers or {})
    if status == 401:
        sent.setdefault("WWW-Authenticate", "Bearer")
    if status == 503:
        sent.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    content = json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()
    return Response(content, status_code=status, headers=sent, media_type=MEDIA_TYPE)


Handler = Callable[[Request, Exception], Awaitable[Response]]


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 no route, 405 method) as problems."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(exc.status_code, detail, headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "an unexpected error; it has been logged")


STARLETTE_HANDLERS: dict[int | type[Exception], Handler] = {
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
"""The exception handlers of a service's Starlette app (servicekit.service)."""
