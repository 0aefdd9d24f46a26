"""Every error the gateway answers is an RFC 9457 problem (`application/problem+json`): type,
title, status, detail and `errors[]`, each naming the field or node that is wrong.

`install_problem_handlers` is the one call app.py makes: it turns FastAPI's and Starlette's
errors (validation, HTTPException, 404, 405), a broker or database that does not answer (503
with Retry-After) and anything unexpected (500) into problems, puts the request guard in front
of the routes (handlers/guard.py: body limit, NUL and invalid Unicode), and adds the problem
schema to the OpenAPI document. Routes declare what they can answer with `problem_responses`."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pymongo.errors import ConnectionFailure, PyMongoError
from servicekit.problems import (
    ABOUT_BLANK,
    INVALID_REQUEST,
    MEDIA_TYPE,
    TOO_LARGE,
    UNAVAILABLE,
    FieldError,
    Problem,
    on_unexpected,
    problem_response,
)
from servicekit.publisher import Unavailable
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from trigger_gateway.adapters.locks import Busy
from trigger_gateway.domain.plans import LimitReached
from trigger_gateway.settings import Settings

log = logging.getLogger(__name__)
PLAN_LIMIT = "urn:connectflo:problem:plan-limit"


class ApiProblem(Exception):
    """Raised by a route: answered as a problem with this status."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        type_: str = ABOUT_BLANK,
        headers: Mapping[str, str] | None = None,
        members: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.type = type_
        self.headers = dict(headers or {})
        self.members = dict(members or {})  # extension members (RFC 9457, section 3.2)


def limit_problem(reached: LimitReached, status: int = 409) -> ApiProblem:
    """A plan's limit refuses the request: 409 (a count) or 413 (a size), naming the limit,
    the plan and what it allows as members of the problem."""
    return ApiProblem(status, reached.detail, type_=PLAN_LIMIT, members=reached.members)


def too_large(limit: int) -> Response:
    return problem_response(
        413,
        f"the request body is larger than the limit of {limit} bytes",
        type_=TOO_LARGE,
    )


def refused(name: str, reason: str) -> Response:
    """422 for input no route may see (domain/input_text.py)."""
    return problem_response(
        422,
        f"{name} {reason}",
        errors=[FieldError(name=name, reason=reason)],
        type_=INVALID_REQUEST,
    )


def unavailable(exc: BaseException) -> Response | None:
    """503 with Retry-After when ``exc`` says Kafka or MongoDB did not answer in time."""
    if isinstance(exc, Unavailable):
        what = "Kafka did not acknowledge the message in time"
    elif isinstance(exc, ConnectionFailure) or (isinstance(exc, PyMongoError) and exc.timeout):
        what = "the database did not answer in time"
    else:
        return None
    log.warning("answered 503: %r", exc)
    return problem_response(503, f"{what}; retry later", type_=UNAVAILABLE)


def _name(loc: Sequence[str | int]) -> str:
    """('body', 'nodes', 3, 'config') -> 'body.nodes[3].config'."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def validation_errors(errors: Sequence[Any]) -> list[FieldError]:
    found = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            reason = f"is not valid JSON: {error.get('ctx', {}).get('error', 'decode error')}"
            found.append(FieldError(name="body", reason=reason))
        else:
            found.append(FieldError(name=_name(loc) or "request", reason=str(error.get("msg"))))
    return found


def summary(errors: Sequence[FieldError], limit: int = 5) -> str:
    text = "; ".join(f"{e.name}: {e.reason}" for e in errors[:limit])
    return text + (f"; and {len(errors) - limit} more" if len(errors) > limit else "")


async def _on_api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(
        exc.status,
        exc.detail,
        errors=exc.errors,
        type_=exc.type,
        headers=exc.headers,
        **exc.members,
    )


async def _on_busy(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Busy)
    return problem_response(
        503,
        f"{exc}; retry in a moment",
        type_=UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    if exc.status_code == 405:
        # Starlette names the methods of the first route on the path only
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
    return problem_response(exc.status_code, detail, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (asked of the routes, included routers
    among them, as the router would)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    return problem_response(422, summary(errors), errors=errors, type_=INVALID_REQUEST)


async def _on_infrastructure_error(request: Request, exc: Exception) -> Response:
    answer = unavailable(exc)
    if answer is not None:
        return answer
    return await on_unexpected(request, exc)


Handler = Callable[[Request, Exception], Awaitable[Response]]
_HANDLERS: dict[type[Exception], Handler] = {
    ApiProblem: _on_api_problem,
    Busy: _on_busy,
    StarletteHTTPException: _on_http_exception,
    RequestValidationError: _on_validation_error,
    Unavailable: _on_infrastructure_error,
    PyMongoError: _on_infrastructure_error,
    Exception: on_unexpected,
}


def install_problem_handlers(app: FastAPI, settings: Settings) -> None:
    """Problems for every error, the request guard, and the problem schema in OpenAPI."""
    from trigger_gateway.handlers.guard import LargeBodies, RequestGuard

    for exc_type, handler in _HANDLERS.items():
        app.add_exception_handler(exc_type, handler)
    uploads = LargeBodies(
        frozenset({"POST", "PUT"}),
        re.compile(r"/v1/documents(/[^/]+)?"),
        max(settings.max_document_body_bytes, settings.max_body_bytes),
    )
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, large_bodies=[uploads])
    _document_problems(app)


def _document_problems(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            schemas["JsonValue"] = JSON_VALUE
            _constrain_free_form(schema)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


JSON_VALUE: dict[str, Any] = {
    "description": "Any JSON value the API stores: numbers within 64 bits, nesting up to 64 "
    "levels, no NUL characters.",
    "anyOf": [
        {"type": "string"},
        {"type": "number", "minimum": -(2**63), "maximum": 2**63 - 1},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/JsonValue"}},
    ],
}
_FREE_FORM_KEYS = {"type", "additionalProperties", "title", "description"}


def _constrain_free_form(node: Any) -> None:
    """Free-form objects (`dict[str, Any]`: a payload, a node's config) hold JSON values as
    the request guard accepts them, and say so."""
    if isinstance(node, dict):
        for value in node.values():
            _constrain_free_form(value)
        if (
            node.get("type") == "object"
            and node.get("additionalProperties") is True
            and set(node) <= _FREE_FORM_KEYS
        ):
            node["additionalProperties"] = {"$ref": "#/components/schemas/JsonValue"}
    elif isinstance(node, list):
        for value in node:
            _constrain_free_form(value)


_DESCRIPTIONS = {
    400: "The request cannot be served as sent (e.g. an OAuth state unknown, used or expired)",
    401: "No API key (or admin token), or not a known one",
    403: "Not allowed for this caller",
    404: "No such resource (another tenant's ids are not found either)",
    409: "The resource's state does not allow it, or the tenant's plan does not: then the "
    "problem's type is `urn:connectflo:problem:plan-limit` and its members `limit` (e.g. "
    "`maxDocuments`), `plan`, `allowed` and `current` say which",
    413: "The body is larger than the limit (GATEWAY_MAX_BODY_BYTES, 1 MiB by default; a "
    "document upload's is GATEWAY_MAX_DOCUMENT_BODY_BYTES), or a document is larger than the "
    "tenant's plan allows (type `urn:connectflo:problem:plan-limit`, members `limit`: "
    "`maxDocumentBytes`, `plan`, `allowed`, `current`)",
    415: "The body is not of the media type this operation takes",
    422: "Invalid input; `errors[]` names each field or node. NUL characters and invalid "
    "Unicode are refused anywhere in the input",
    502: "A provider's server the operation needs answered badly or not at all",
    503: "Kafka, MongoDB or the executor did not answer in time; retry after Retry-After",
}
_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: send the API key as `Authorization: Bearer <key>`",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before retrying",
            "required": True,
            "schema": {"type": "integer"},
        }
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status answered as a problem."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in sorted(statuses)
    }


TENANT_ERRORS = (401, 422, 503)
"""What every route with the tenant's API key can answer: a missing or unknown key, input
with a NUL or invalid Unicode, MongoDB unavailable."""
WITH_BODY = (413,)
