"""The executor's HTTP routes (health, readiness and metrics are the kit's), both for the
gateway, as the executor owns the node catalogue: workflow validation, and preview (a
workflow run in-process with mocked effects, as `connectflo preview` runs it). A body that is
not a JSON text is answered as an RFC 9457 problem, as every API error is."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.preview import PREVIEW_STEP_BUDGET, PREVIEW_TIMEOUT, PreviewRequest
from pydantic import ValidationError
from servicekit.problems import (
    INVALID_REQUEST,
    INVALID_WORKFLOW,
    FieldError,
    problem_response,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from executor.domain.interpreter import NoMatchingTrigger, WorkflowInvalid, compile_workflow
from executor.domain.validation.problems import Problem
from executor.preview import PreviewLimitReached, preview_context, run_preview
from executor.runtime import engine_port


async def validate_workflow(request: Request) -> Response:
    """POST the builder's JSON; the answer is {"problems": [...]}, errors and warnings."""
    definition = await _json_body(request)
    if isinstance(definition, Response):
        return definition
    return JSONResponse({"problems": engine_port.validate_definition(definition)})


@dataclass(frozen=True, slots=True)
class PreviewLimits:
    """How long a preview may run, and how many node runs it may take."""

    timeout_seconds: float
    max_node_runs: int


async def preview_workflow(request: Request, *, limits: PreviewLimits) -> Response:
    """POST a contracts.preview.PreviewRequest; the answer is what `connectflo preview` prints.
    Nothing leaves the preview: every effect is answered from the mocks. 422 when the body is
    not a preview request, the workflow is invalid (naming each problem) or a limit stopped it.
    """
    raw = await _json_body(request)
    if isinstance(raw, Response):
        return raw
    try:
        asked = PreviewRequest.model_validate(raw)
    except ValidationError as exc:
        errors = [
            FieldError(name=".".join(["body", *map(str, e["loc"])]), reason=e["msg"])
            for e in exc.errors(include_url=False)
        ]
        detail = "the body is not a preview request: " + "; ".join(
            f"{e.name}: {e.reason}" for e in errors
        )
        return problem_response(422, detail, errors=errors, type_=INVALID_REQUEST)
    definition = raw["definition"]  # as sent, as the CLI reads a file
    try:
        report = await asyncio.wait_for(
            asyncio.to_thread(_preview, definition, asked, limits), limits.timeout_seconds
        )
    except WorkflowInvalid as invalid:
        return problem_response(
            422,
            "invalid workflow: " + "; ".join(str(p) for p in invalid.errors),
            errors=[_named(definition, p) for p in invalid.errors],
            type_=INVALID_WORKFLOW,
        )
    except NoMatchingTrigger as exc:
        reason = str(exc)
        return problem_response(
            422, reason, errors=[FieldError(name="body.trigger.type", reason=reason)]
        )
    except (TimeoutError, PreviewLimitReached) as exc:
        return _limit_problem(exc, limits)
    return JSONResponse(report)


def _preview(definition: Any, asked: PreviewRequest, limits: PreviewLimits) -> dict[str, Any]:
    """In a thread of its own, on a loop of its own: the executor's consumers go on meanwhile.
    It stops by itself at the time limit (a waiter that gave up does not stop a thread)."""
    workflow = compile_workflow(definition)
    context = preview_context(
        workflow,
        trigger_type=asked.trigger.type,
        payload=asked.trigger.payload,
        customer=asked.customer,
        variables={str(scope): given for scope, given in (asked.variables or {}).items()},
        started_at=datetime.now(UTC),
    )
    return asyncio.run(
        run_preview(
            workflow,
            context,
            mocks=asked.mocks,
            now=lambda: datetime.now(UTC),
            max_node_runs=limits.max_node_runs,
            timeout_seconds=limits.timeout_seconds,
        )
    )


def _limit_problem(exc: Exception, limits: PreviewLimits) -> Response:
    if isinstance(exc, PreviewLimitReached) and exc.limit == "node_runs":
        detail = f"the preview needed more than {limits.max_node_runs} node runs, its limit"
        type_ = PREVIEW_STEP_BUDGET
    else:
        detail = f"the preview ran longer than {limits.timeout_seconds:g} s, its limit"
        type_ = PREVIEW_TIMEOUT
    return problem_response(
        422, detail, errors=[FieldError(name="body.definition", reason=detail)], type_=type_
    )


def _named(definition: Any, problem: Problem) -> FieldError:
    """Where in the body: `body.definition.nodes[3].config.operator`, `body.definition.edges[1]`
    or `body.definition`."""
    name = "body.definition"
    nodes = [n.get("id") for n in definition.get("nodes", []) if isinstance(n, dict)]
    edges = [e.get("id") for e in definition.get("edges", []) if isinstance(e, dict)]
    if problem.node_id is not None and problem.node_id in nodes:
        name += f".nodes[{nodes.index(problem.node_id)}]"
        if problem.field:
            field = problem.field.removeprefix("config").lstrip(".")
            name += ".config" + (f".{field}" if field else "")
    elif problem.edge_id is not None and problem.edge_id in edges:
        name += f".edges[{edges.index(problem.edge_id)}]"
    return FieldError(name=name, reason=problem.message, node_id=problem.node_id)


async def _json_body(request: Request) -> Any:
    """The body's JSON, or the problem answering a body that is none."""
    try:
        return json.loads((await request.body()).decode("utf-8"))
    except RecursionError:
        return _bad_body("is nested too deeply")
    except ValueError as exc:  # UnicodeDecodeError among them
        return _bad_body(f"is not a UTF-8 JSON text: {exc}")


def _bad_body(reason: str) -> Response:
    return problem_response(
        400,
        f"the body {reason}",
        errors=[FieldError(name="body", reason=reason)],
        type_=INVALID_REQUEST,
    )
