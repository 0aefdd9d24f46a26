"""The executor's HTTP surface: health, and workflow validation for the gateway (the executor
owns the node catalogue, so it is the one that can tell whether a workflow is valid).

Plain ASGI callables mounted by AsgiFastStream: two routes do not need a web framework."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from executor.runtime import engine

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _respond(send: Send, status: int, value: object) -> None:
    body = json.dumps(value).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def validate_workflow(scope: Scope, receive: Receive, send: Send) -> None:
    """POST the builder's JSON; the answer is {"problems": [...]}, errors and warnings."""
    if scope.get("method") != "POST":
        await _respond(send, 405, {"detail": "use POST"})
        return
    try:
        definition = json.loads(await _read_body(receive))
    except ValueError as exc:
        await _respond(send, 400, {"detail": f"body is not JSON: {exc}"})
        return
    await _respond(send, 200, {"problems": engine.validate_definition(definition)})
