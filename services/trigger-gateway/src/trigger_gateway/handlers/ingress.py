"""The trigger ingress's fast lane: `POST /v1/events/{trigger_type}` without FastAPI.

Triggers are nearly all the gateway's traffic, and FastAPI's middleware, routing and dependency
solving cost about three times the work of accepting a trigger itself. This ASGI app, in front
of FastAPI, serves a trigger request whose key, trigger type and body are all valid, calling the
same ``accept_trigger`` as the route, in a server span that continues the caller's
``traceparent``. It answers two errors itself, as the API does everywhere: a body over the
limit (413, before it is read whole) and Kafka or MongoDB not answering in time (503 with
Retry-After). Anything else goes on to FastAPI with the body replayed, and the route (or the
request guard in front of it) answers it: a 401, 404 or 422 is the API's own, word for word."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.trace import SpanKind
from servicekit.service import ROUTE_KEY
from starlette.types import ASGIApp, Receive, Scope, Send

from trigger_gateway.domain.api_keys import digest
from trigger_gateway.domain.input_text import Refused, check_json_input
from trigger_gateway.domain.trigger_types import trigger_type_from_slug
from trigger_gateway.handlers.deps import Gateway, api_key
from trigger_gateway.handlers.events import TriggerBody, accept_trigger
from trigger_gateway.handlers.guard import Body, check_head, declared_length, read_body, replay
from trigger_gateway.handlers.problems import too_large, unavailable
from trigger_gateway.telemetry import context_from, tracer

PREFIX = "/v1/events/"


ROUTE = "/v1/events/{trigger_type}"


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
        scope[ROUTE_KEY] = ROUTE  # the HTTP metrics' route label, whoever answers
        limit = self._gateway().settings.max_body_bytes
        length = declared_length(scope)
        if length is not None and length > limit:
            await too_large(limit)(scope, receive, send)
            return
        messages, body = await read_body(receive, limit)
        if body is Body.TOO_LARGE:
            await too_large(limit)(scope, receive, send)
            return
        content = b"".join(m.get("body", b"") for m in messages)
        if body is Body.COMPLETE:
            try:
                if await self._served(scope, content, send):
                    return
            except Exception as exc:
                answer = unavailable(exc)
                if answer is None:
                    raise
                await answer(scope, receive, send)
                return
        await self.app(scope, replay(messages, receive), send)

    async def _served(self, scope: Scope, body: bytes, send: Send) -> bool:
        """True when the request was answered here; False leaves it to the route."""
        label = trigger_type_from_slug(scope["path"][len(PREFIX) :])
        headers = dict(reversed(scope["headers"]))  # the first of repeated headers, as Starlette
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip()
        if label is None or content_type != b"application/json":
            return False
        try:
            check_head(scope)
            check_json_input(body)
        except Refused:
            return False  # the request guard names what is wrong
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
        tracestate = headers.get(b"tracestate", b"").decode("latin-1") or None
        with tracer.start_as_current_span(
            f"POST {ROUTE}",
            context=context_from(traceparent, tracestate),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": "POST", "url.path": scope["path"]},
        ):
            status, accepted = await accept_trigger(gw, tenant, label, trigger)
        answer = accepted.model_dump_json().encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(answer)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": answer})
        return True
