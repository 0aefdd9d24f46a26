"""HttpMetrics: requests counted by route template (one series per route, never per raw
path), method and status."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY
from servicekit.service import HttpMetrics
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TEMPLATE = "/metrics-test/executions/{execution_id}"


async def execution(request: Request) -> JSONResponse:
    if request.path_params["execution_id"] == "missing":
        return JSONResponse({"detail": "no such execution"}, 404)
    return JSONResponse({"id": request.path_params["execution_id"]})


def count(route: str, status: str) -> float:
    labels = {"route": route, "method": "GET", "status": status}
    return REGISTRY.get_sample_value("connectflo_http_requests_total", labels) or 0.0


async def test_requests_are_counted_by_route_template_not_raw_path() -> None:
    app = HttpMetrics(Starlette(routes=[Route(TEMPLATE, execution)]))
    ok, missing, unmatched = (
        count(TEMPLATE, "200"),
        count(TEMPLATE, "404"),
        count("unmatched", "404"),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for path in ("exe_1", "exe_2", "missing"):
            await client.get(f"/metrics-test/executions/{path}")
        await client.get("/metrics-test/nowhere/exe_3")
    assert count(TEMPLATE, "200") - ok == 2
    assert count(TEMPLATE, "404") - missing == 1
    assert count("unmatched", "404") - unmatched == 1
    assert count("/metrics-test/executions/exe_1", "200") == 0  # no series per path
    duration = REGISTRY.get_sample_value(
        "connectflo_http_request_duration_seconds_count", {"route": TEMPLATE}
    )
    assert duration is not None and duration >= 3
