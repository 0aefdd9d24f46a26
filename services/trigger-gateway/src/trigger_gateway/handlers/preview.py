"""Preview: the builder runs a workflow before saving it, as `connectflo preview` does. The
executor owns the engine, so the gateway forwards the request to the executor's preview route,
which runs it in-process with mocked effects: nothing is published, nothing is stored."""

from __future__ import annotations

import httpx
from contracts.preview import PreviewReport, PreviewRequest
from fastapi import APIRouter, status
from servicekit.problems import MEDIA_TYPE, problem_response
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trigger_gateway.handlers.deps import GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)

router = APIRouter(
    prefix="/v1/workflows", tags=["workflows"], responses=problem_responses(*TENANT_ERRORS)
)


@router.post(
    "/preview",
    response_model=None,
    responses={
        200: {"model": PreviewReport, "description": "How the run went, as the CLI prints it."},
        **problem_responses(*WITH_BODY),  # and 422: an invalid workflow, a limit; 503
    },
)
async def preview_workflow(body: PreviewRequest, tenant: TenantDep, gw: GatewayDep) -> Response:
    """Run the builder's workflow in-process for this trigger, effects answered by `mocks`
    (node id -> answers): the nodes it ran, the variables it left, the effects it requested.
    Bounded in time and in node runs (422 naming the limit); an invalid workflow is 422
    naming each problem (`body.definition.nodes[3].config.operator`)."""
    try:
        answer = await gw.executor_http.post(
            "/v1/workflows/preview", json=body.model_dump(mode="json", exclude_unset=True)
        )
    except httpx.HTTPError as exc:
        raise ApiProblem(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow preview unavailable: {exc!r}"
        ) from None
    if answer.status_code == status.HTTP_200_OK:
        return JSONResponse(answer.json())
    if answer.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT:  # the executor's problem
        return Response(answer.content, status_code=answer.status_code, media_type=MEDIA_TYPE)
    raise ApiProblem(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"workflow preview unavailable: the executor answered {answer.status_code}",
    )


@router.api_route(
    "/preview", methods=["GET", "PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False
)
async def refuse_other_methods(request: Request) -> Response:
    """`preview` is no workflow id: its other methods are 405 here, rather than reaching
    /v1/workflows/{workflow_id} (whose GET and PUT would answer for a workflow `preview`)."""
    allowed = "POST"
    return problem_response(
        405,
        f"{request.method} is not allowed here; allowed: {allowed}",
        headers={"Allow": allowed},
    )
