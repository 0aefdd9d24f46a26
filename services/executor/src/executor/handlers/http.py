"""The executor's HTTP route (health, readiness and metrics are the kit's): workflow validation
for the gateway (the executor owns the node catalogue, so it can tell whether a workflow is
valid)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse

from executor.runtime import engine_port


async def validate_workflow(request: Request) -> JSONResponse:
    """POST the builder's JSON; the answer is {"problems": [...]}, errors and warnings."""
    try:
        definition = json.loads(await request.body())
    except ValueError as exc:
        return JSONResponse({"detail": f"body is not JSON: {exc}"}, status_code=400)
    return JSONResponse({"problems": engine_port.validate_definition(definition)})
