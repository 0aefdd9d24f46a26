"""The trigger ingress's fast lane: `POST /v1/events/{trigger_type}` without FastAPI.

Triggers are nearly all the gateway's traffic, and FastAPI's middleware, routing and dependency
solving cost about three times the work of accepting a trigger itself. This ASGI app, in front
of FastAPI, serves a trigger request whose key, trigger type and body are all valid, calling the
same ``accept_trigger`` as the route, in a server span that continues the caller's
``traceparent`` (a crash is answered 500 by the server). Anything else goes on to FastAPI with
the body replayed, and the route answers it: a 401, 404 or 422 is FastAPI's own, word for
word."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trigger_gateway.domain.api_keys import digest
from trigger_gateway.domain.trigger_types import trigger_type_from_slug
from trigger_gateway.handlers.deps import Gateway, api_key
from trigger_gateway.handlers.events import TriggerBody, accept_trigger
from trigger_gateway.telemetry import context_from, tracer

PREFIX = "/v1/events/"
MAX_BODY = 1 << 20  # a larger body goes the long way (FastAPI reads it as before)


class TriggerIngress:
    def __init__(self, app: ASGIApp, gateway: Callable[[], Gateway]) -> None:
        """``app``: the FastAPI app; ``gateway``: its repositories and publisher (set up by
        its lifespan)."""
        self.app = app
        self._gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith(PREFIX)
            or "/" in path[len(PREFIX) :]
        ):
            await self.app(scope, receive, send)
            return
        messages, complete = await _read_body(receive)
        body = b"".join(m.get("body", b"") for m in messages)
        if complete and await self._served(scope, body, send):
            return
        await self.app(scope, _replay(messages, receive), send)

    async def _served(self, scope: Scope, body: bytes, send: Send) -> bool:
        """True when the request was answered here; False leaves it to the route."""
        label = trigger_type_from_slug(scope["path"][len(PREFIX) :])
        headers = dict(reversed(scope["headers"]))  # the first of repeated headers, as Starlette
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip()
        if label is None or content_type != b"application/json":
            return False
        key = api_key(
            headers.get(b"authorization", b"").decode("latin-1") or None,
            headers.get(b"x-api-key", b"").decode("latin-1") or None,
        )
        if key is None:
            return False
        gw = self._gateway()
        tenant = await gw.tenants.tenant_for_key(digest(key))
        if tenant is None:
            return False
        try:
            trigger = TriggerBody.model_validate_json(body)
        except ValueError:  # pydantic's ValidationError, a malformed JSON text among them
            return False
        traceparent = headers.get(b"traceparent", b"").decode("latin-1") or None
        with tracer.start_as_current_span(
            "POST /v1/events/{trigger_type}",
            context=context_from(traceparent),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": "POST", "url.path": scope["path"]},
        ):
            status, accepted = await accept_trigger(gw, tenant, label, trigger)
        answer = accepted.model_dump_json().encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})
        return True


async def _read_body(receive: Receive) -> tuple[list[Message], bool]:
    """The request's body messages, up to MAX_BODY; complete: every one was read."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client went away
            return messages, False
        size += len(message.get("body", b""))
        if size > MAX_BODY:
            return messages, False
        if not message.get("more_body", False):
            return messages, True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out what was read already, then the rest from the client."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
