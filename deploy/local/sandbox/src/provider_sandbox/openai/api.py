"""OpenAI's REST API under `/openai/v1` (a client's `base_url` is the sandbox's URL plus
`/openai/v1`), every request passing the same gate, as OpenAI's does:

1. `Authorization: Bearer sk-...`: missing 401 (code null), malformed or revoked 401
   `invalid_api_key` quoting the key masked;
2. the key's requests per minute (`x-ratelimit-*-requests` on every answer; over: 429
   `rate_limit_exceeded` with `retry-after`);
3. a failure queued with `POST /sandbox/openai/failures` (429, 500 or 503 with OpenAI's body);
4. the endpoint, which checks its body and answers.
Every answer carries `x-request-id` and `openai-processing-ms`; every request is recorded
(`GET /sandbox/openai/requests`), its key only by its last four characters."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from . import chat, embeddings, errors, responses
from .control import control_router
from .errors import OpenAIError
from .ids import request_id
from .models import MODELS
from .params import parsed_body
from .state import InjectedFailure, OpenAIState

PREFIX = "/openai/v1"
Answer = dict[str, Any] | Response
Endpoint = Callable[[dict[str, Any]], Awaitable[Answer]]
FAILURES = {
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later",
}


def duration(seconds: float) -> str:
    """As OpenAI writes a reset time: "20ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    return f"{int(minutes)}m{rest:g}s" if minutes else f"{rest:g}s"


def _rate_limited(model: str, limit: int, wait: float) -> OpenAIError:
    message = (
        f"Rate limit reached for {model} in organization org-sandbox on requests per min (RPM):"
        f" Limit {limit}, Used {limit}, Requested 1. Please try again in {duration(wait)}."
        f" Visit {errors.RATE_LIMITS_URL} to learn more."
    )
    return OpenAIError(
        429, message, type_="requests", code="rate_limit_exceeded", headers=_retry_headers(wait)
    )


def _retry_headers(wait: float) -> dict[str, str]:
    return {"retry-after": str(max(0, math.ceil(wait))), "retry-after-ms": str(round(wait * 1000))}


def _injected(failure: InjectedFailure, model: str, limit: int) -> OpenAIError:
    if failure.status == 429:
        refusal = _rate_limited(
            model, limit, 1.0 if failure.retry_after is None else failure.retry_after
        )
        refusal.headers["x-ratelimit-remaining-requests"] = "0"
        return refusal
    headers = _retry_headers(failure.retry_after) if failure.retry_after is not None else {}
    message = FAILURES.get(failure.status, FAILURES[500])
    return OpenAIError(failure.status, message, type_="server_error", headers=headers)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _recorded_body(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw[:2000].decode("utf-8", "replace")


def openai_routers(state: OpenAIState) -> list[APIRouter]:
    api = APIRouter(prefix=PREFIX, tags=["openai"])

    async def served(
        request: Request, path: str, endpoint: Endpoint, *, guarded: bool = True
    ) -> Response:
        started, raw = time.monotonic(), await request.body()
        key, recorded = _bearer(request), _recorded_body(raw)
        model = recorded.get("model") if isinstance(recorded, dict) else None
        limits: dict[str, str] = {}
        try:
            if guarded:
                limits = admitted(key, str(model or "requests"), path)
            body = parsed_body(raw) if request.method == "POST" else {}
            produced = await endpoint(body)
            answer = produced if isinstance(produced, Response) else JSONResponse(produced)
        except OpenAIError as refusal:
            answer = JSONResponse(refusal.body(), refusal.status, headers=refusal.headers)
        rid = request_id()
        answer.headers.update(limits)
        answer.headers["x-request-id"] = rid
        answer.headers["openai-version"] = "2020-10-01"
        answer.headers["openai-processing-ms"] = str(round((time.monotonic() - started) * 1000))
        state.requests.append(
            {
                "request_id": rid,
                "method": request.method,
                "path": request.url.path,
                "endpoint": path,
                "model": model,
                "body": recorded,
                "key_last4": key[-4:] if key else None,
                "status": answer.status_code,
                "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
        )
        return answer

    def admitted(key: str | None, model: str, path: str) -> dict[str, str]:
        """The rate-limit headers for an admitted request; refusals raise."""
        if key is None:
            raise errors.missing_key()
        if not state.accepts(key):
            raise errors.incorrect_key(key)
        window = state.window(key)
        left = window.admit()
        if left is None:
            refusal = _rate_limited(model, window.limit, window.wait())
            refusal.headers.update(_limit_headers(window.limit, 0, window.wait()))
            raise refusal
        headers = _limit_headers(window.limit, left, 60 / window.limit * window.used)
        failure = state.failure_for(path)
        if failure is not None:
            refusal = _injected(failure, model, window.limit)
            refusal.headers = {**headers, **refusal.headers}
            raise refusal
        return headers

    @api.get("/models")
    async def list_models(request: Request) -> Response:
        async def listed(_: dict[str, Any]) -> Answer:
            return {"object": "list", "data": [m.listed() for m in MODELS.values()]}

        return await served(request, "models", listed)

    @api.get("/models/{model_id:path}")
    async def retrieve_model(model_id: str, request: Request) -> Response:
        async def found(_: dict[str, Any]) -> Answer:
            if model_id not in MODELS:
                message = f"The model '{model_id}' does not exist"
                raise OpenAIError(404, message, param="model", code="model_not_found")
            return MODELS[model_id].listed()

        return await served(request, "models", found)

    @api.post("/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await served(request, "chat/completions", chat.complete)

    @api.post("/responses")
    async def create_response(request: Request) -> Response:
        async def created(body: dict[str, Any]) -> Answer:
            return await responses.create(state, body)

        return await served(request, "responses", created)

    @api.get("/responses/{response_id}")
    async def retrieve_response(response_id: str, request: Request) -> Response:
        async def found(_: dict[str, Any]) -> Answer:
            return responses.stored(state, response_id)

        return await served(request, "responses", found)

    @api.post("/embeddings")
    async def create_embeddings(request: Request) -> Response:
        async def created(body: dict[str, Any]) -> Answer:
            return embeddings.create(body)

        return await served(request, "embeddings", created)

    @api.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(rest: str, request: Request) -> Response:
        async def invalid(_: dict[str, Any]) -> Answer:
            raise OpenAIError(404, f"Invalid URL ({request.method} /v1/{rest})")

        return await served(request, rest, invalid, guarded=False)

    return [api, control_router(state)]


def _limit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": duration(reset),
    }
