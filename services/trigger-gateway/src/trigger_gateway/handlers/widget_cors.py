"""CORS for the chat widget's public routes, per widget: `/widget/v1/{widget_key}/...` answers a
browser only from the widget's allowed origins (and the gateway's own, where its demo page is).

A request with an `Origin` the widget does not allow is refused (403), not only left without
`Access-Control-Allow-Origin`: the browser would still have sent it, and a message would have
been published. A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed
origin is answered here (204), with the headers the widget sends. Requests without `Origin`
(a server, curl) pass: their signature is what is checked. In front of the request guard, so
its 413 and 422 reach the page readable too."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from servicekit.problems import problem_response
from servicekit.sealing import SealingError
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trigger_gateway.handlers.problems import unavailable
from trigger_gateway.handlers.widget_channel import ANY_ORIGIN
from trigger_gateway.handlers.widget_state import WidgetChannel

PREFIX = "/widget/v1/"
METHODS = "GET, POST"
HEADERS = "Content-Type, X-Widget-Session, X-Widget-Signature, Last-Event-ID"
MAX_AGE = "600"


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, as a browser writes it in `Origin`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class WidgetCors:
    def __init__(self, app: ASGIApp, channel: Callable[[], WidgetChannel], public_url: str):
        self.app = app
        self._channel = channel
        self._own = origin_of(public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        widget_key, slash, _ = path[len(PREFIX) :].partition("/")
        headers = dict(reversed(scope["headers"]))
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not slash or not origin:  # the script itself; or not a browser's request
            await self.app(scope, receive, send)
            return
        preflight = scope["method"] == "OPTIONS" and b"access-control-request-method" in headers
        answer = await self._refusal(widget_key, origin, preflight)
        if answer is not None:
            await answer(scope, receive, send)
            return
        allowed = [
            ("Access-Control-Allow-Origin", origin),
            ("Vary", "Origin"),
        ]
        if preflight:
            await Response(
                status_code=204,
                headers={
                    **dict(allowed),
                    "Access-Control-Allow-Methods": METHODS,
                    "Access-Control-Allow-Headers": HEADERS,
                    "Access-Control-Max-Age": MAX_AGE,
                },
            )(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in allowed:
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _refusal(self, widget_key: str, origin: str, preflight: bool) -> Response | None:
        """The answer to a request that goes no further, or None to let it through (an
        unknown widget's request: the route says 404)."""
        try:
            found = await self._channel().directory.find(widget_key)
        except SealingError:
            found = None  # the route answers 503
            if preflight:
                return problem_response(503, "the widget's secret cannot be opened")
        except Exception as exc:  # MongoDB not answering: 503, as everywhere
            answer = unavailable(exc)
            if answer is None:
                raise
            return answer
        if found is None:
            if preflight:
                return problem_response(404, f"no widget {widget_key}")
            return None
        origins = found.widget.allowed_origins
        if origin == self._own or ANY_ORIGIN in origins or origin in origins:
            return None
        return problem_response(403, f"origin {origin} is not allowed by widget {widget_key}")
