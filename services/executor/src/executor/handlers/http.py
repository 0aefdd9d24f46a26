"""The executor's HTTP surface: health (its consumers run), metrics, and workflow validation for the
gateway (the executor owns the node catalogue, so it is the one that can tell whether a workflow
is valid)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from executor.runtime import engine_port


class Running(Protocol):
    @property
    def running(self) -> bool: ...


def health(consumers: Sequence[Running]) -> Callable[[Request], Awaitable[JSONResponse]]:
    """200 while every consumer runs (503 before start-up is done, or when one has died)."""

    async def healthz(request: Request) -> JSONResponse:
        running = bool(consumers) and all(c.running for c in consumers)
        return JSONResponse(
            {"consumers": "running" if running else "down"}, status_code=200 if running else 503
        )

    return healthz


async def metrics(request: Request) -> Response:
    """Prometheus' text format, at `/metrics` itself (a mounted app would redirect there)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def validate_workflow(request: Request) -> JSONResponse:
    """POST the builder's JSON; the answer is {"problems": [...]}, errors and warnings."""
    try:
        definition = json.loads(await request.body())
    except ValueError as exc:
        return JSONResponse({"detail": f"body is not JSON: {exc}"}, status_code=400)
    return JSONResponse({"problems": engine_port.validate_definition(definition)})
