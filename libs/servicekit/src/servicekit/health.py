"""Health and readiness, one meaning in every service.

- ``GET /healthz``: the process is alive (its consumers' and background tasks still run);
  200, else 503. What a supervisor restarts on.
- ``GET /readyz``: the service can do its work now: MongoDB answers, a Kafka broker answers,
  and every consumer has its partitions from the group. 200, else 503 with ``Retry-After``
  and the checks that failed (RFC 9457 problem details). What a load balancer and the start-up
  scripts wait on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from servicekit.problems import FieldError, problem_response

Check = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT = 2.0  # seconds: a check that has no answer by then has failed


async def run_checks(checks: Mapping[str, Check]) -> dict[str, bool]:
    """Every check at once, each bounded by CHECK_TIMEOUT."""

    async def one(check: Check) -> bool:
        try:
            return await asyncio.wait_for(check(), CHECK_TIMEOUT)
        except Exception:  # a timeout or the dependency's error: not ready
            return False

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


def health_endpoint(alive: Callable[[], bool]) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(request: Request) -> Response:
        if alive():
            return _json(200, {"status": "ok"})
        return problem_response(503, "a consumer or background task of this process ended")

    return healthz


def ready_endpoint(
    checks: Callable[[], Mapping[str, Check]],
) -> Callable[[Request], Awaitable[Response]]:
    async def readyz(request: Request) -> Response:
        results = await run_checks(checks())
        if all(results.values()):
            return _json(200, {"status": "ready", "checks": results})
        failing = sorted(name for name, ok in results.items() if not ok)
        return problem_response(
            503,
            f"not ready: {', '.join(failing)}",
            checks=results,
            errors=[FieldError(name=name, reason="did not answer") for name in failing],
        )

    return readyz


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body), status, media_type="application/json")
