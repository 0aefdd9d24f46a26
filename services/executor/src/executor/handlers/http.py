"""The executor's HTTP route (health, readiness and metrics are the kit's): workflow validation
for the gateway (the executor owns the node catalogue, so it can tell whether a workflow is
valid). A body that is not a JSON text is answered as an RFC 9457 problem, as every API
error is."""

from __future__ import annotations

import json

from servicekit.problems import INVALID_REQUEST, FieldError, problem_response
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from executor.runtime import engine_port


async def validate_workflow(request: Request) -> Response:
    """POST the builder's JSON; the answer is {"problems": [...]}, errors and warnings."""
    try:
        definition = json.loads((await request.body()).decode("utf-8"))
    except RecursionError:
        return _bad_body("is nested too deeply")
    except ValueError as exc:  # UnicodeDecodeError among them
        return _bad_body(f"is not a UTF-8 JSON text: {exc}")
    return JSONResponse({"problems": engine_port.validate_definition(definition)})


def _bad_body(reason: str) -> Response:
    return problem_response(
        400,
        f"the body {reason}",
        errors=[FieldError(name="body", reason=reason)],
        type_=INVALID_REQUEST,
    )
