"""The request guard, in front of every route: what no route may see is answered here.

- A body over the limit: 413 naming the limit, at once when Content-Length says so, else as
  soon as the bytes that arrived pass it (the body is never read whole, let alone parsed).
  The limit is GATEWAY_MAX_BODY_BYTES, except on the routes that take larger bodies
  (`LargeBodies`: a document upload, up to the largest plan's document in base64).
- NUL characters or invalid Unicode in the path, the query string, the headers the gateway
  reads, anywhere in a JSON body (strings and keys) or in a form body's names and values
  (provider webhooks); integers beyond 64 bits, NaN, Infinity, JSON nested too deep, a JSON
  body that does not parse: 422 naming where (domain/input_text.py). Nothing of it reaches a
  route, so nothing of it reaches MongoDB.

The trigger ingress (handlers/ingress.py) serves triggers before FastAPI and uses the same
reading and checks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trigger_gateway.domain.input_text import (
    Refused,
    check_json_input,
    check_path,
    check_query,
    decoded,
    form_fields,
)
from trigger_gateway.handlers.problems import refused, too_large

READ_HEADERS = (
    b"authorization",
    b"x-api-key",
    b"x-admin-token",
    b"content-type",
    b"traceparent",
    b"tracestate",
)
"""The headers some route reads: checked like the rest of the input."""


class Body(Enum):
    COMPLETE = "complete"
    TOO_LARGE = "too large"
    DISCONNECTED = "disconnected"


def check_head(scope: Scope) -> None:
    """Refused for a path, query string or read header that no route may see."""
    check_path(scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass"))
    check_query(scope.get("query_string", b""))
    for name, value in scope["headers"]:
        if name in READ_HEADERS:
            decoded("header." + name.decode("latin-1"), value)


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the server refuses these before us
                return None
    return None


def is_json(scope: Scope) -> bool:
    """What FastAPI parses as JSON: `application/json` and `application/*+json`."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";")[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return False


def is_form(scope: Scope) -> bool:
    """`application/x-www-form-urlencoded`: how Twilio posts its webhooks."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";")[0].strip().lower()
            return media == b"application/x-www-form-urlencoded"
    return False


async def read_body(receive: Receive, limit: int) -> tuple[list[Message], Body]:
    """The request's body messages, counted as they arrive, stopping past ``limit``."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client went away
            return messages, Body.DISCONNECTED
        size += len(message.get("body", b""))
        if size > limit:
            return messages, Body.TOO_LARGE
        if not message.get("more_body", False):
            return messages, Body.COMPLETE


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out what was read already, then the rest from the client."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


@dataclass(frozen=True)
class LargeBodies:
    """Requests of ``methods`` on a path that ``path`` matches (whole) take bodies up to
    ``limit`` bytes."""

    methods: frozenset[str]
    path: re.Pattern[str]
    limit: int

    def applies(self, scope: Scope) -> bool:
        return scope["method"] in self.methods and self.path.fullmatch(scope["path"]) is not None


class RequestGuard:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, large_bodies: Sequence[LargeBodies] = ()
    ) -> None:
        self.app = app
        self.default_limit = max_body_bytes
        self.large_bodies = tuple(large_bodies)

    def limit_of(self, scope: Scope) -> int:
        for route in self.large_bodies:
            if route.applies(scope):
                return route.limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_head(scope)
        except Refused as exc:
            await refused(exc.name, exc.reason)(scope, receive, send)
            return
        limit = self.limit_of(scope)
        length = declared_length(scope)
        if length is not None and length > limit:
            await too_large(limit)(scope, receive, send)
            return
        messages, body = await read_body(receive, limit)
        if body is Body.TOO_LARGE:
            await too_large(limit)(scope, receive, send)
            return
        if body is Body.COMPLETE:
            content = b"".join(m.get("body", b"") for m in messages)
            if content and is_json(scope):
                try:
                    check_json_input(content)
                except Refused as exc:
                    await refused(exc.name, exc.reason)(scope, receive, send)
                    return
            elif content and is_form(scope):
                try:
                    form_fields(content)
                except Refused as exc:
                    await refused(exc.name, exc.reason)(scope, receive, send)
                    return
            messages = [{"type": "http.request", "body": content, "more_body": False}]
        await self.app(scope, replay(messages, receive), send)
