"""The sandbox's side of its OpenAI (no auth): revoke keys, queue failures, set the
requests-per-minute limit, read and clear what was received, reset."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from .state import DEFAULT_REQUESTS_PER_MINUTE, InjectedFailure, OpenAIState

Path = Literal["chat/completions", "responses", "embeddings", "models"]


class RevokedKey(BaseModel):
    key: str = Field(min_length=1)


class FailureSpec(BaseModel):
    status: Literal[429, 500, 503]
    count: int = Field(1, ge=1, le=10_000, description="How many matching requests fail.")
    path: Path | None = Field(None, description="Only requests to this endpoint; none: any.")
    retry_after: float | None = Field(
        None, ge=0, le=3600, description="Seconds, sent as retry-after (and retry-after-ms)."
    )


class LimitSpec(BaseModel):
    requests_per_minute: int | None = Field(
        None, ge=1, le=1_000_000, description="Per key, a rolling minute; none: the default."
    )


def _failure(failure: InjectedFailure) -> dict[str, Any]:
    return {
        "status": failure.status,
        "remaining": failure.remaining,
        "path": failure.path,
        "retry_after": failure.retry_after,
    }


def control_router(state: OpenAIState) -> APIRouter:
    sandbox = APIRouter(prefix="/sandbox/openai", tags=["sandbox"])

    @sandbox.post("/keys/revoke")
    async def revoke(given: RevokedKey) -> dict[str, Any]:
        """The key is refused from now on (401 invalid_api_key), until a reset."""
        state.revoked.add(given.key)
        return {"revoked": True, "key_last4": given.key[-4:]}

    @sandbox.post("/failures", status_code=201)
    async def queue_failure(spec: FailureSpec) -> dict[str, Any]:
        """The next `count` requests (to `path`) fail with OpenAI's answer for `status`."""
        state.failures.append(InjectedFailure(spec.status, spec.count, spec.path, spec.retry_after))
        return {"failures": [_failure(f) for f in state.failures]}

    @sandbox.get("/failures")
    async def failures() -> dict[str, Any]:
        return {"failures": [_failure(f) for f in state.failures]}

    @sandbox.delete("/failures")
    async def clear_failures() -> dict[str, Any]:
        state.failures.clear()
        return {"failures": []}

    @sandbox.post("/limits")
    async def limits(spec: LimitSpec) -> dict[str, Any]:
        state.requests_per_minute = spec.requests_per_minute or DEFAULT_REQUESTS_PER_MINUTE
        state.windows.clear()
        return {"requests_per_minute": state.requests_per_minute}

    @sandbox.get("/requests")
    async def requests(path: str | None = None, model: str | None = None) -> dict[str, Any]:
        """What was received, oldest first: endpoint, model, body, the key's last 4, status."""
        found = [
            r
            for r in state.requests
            if (path is None or r["endpoint"] == path) and (model is None or r["model"] == model)
        ]
        return {"requests": found}

    @sandbox.delete("/requests")
    async def clear_requests() -> dict[str, Any]:
        state.requests.clear()
        return {"requests": []}

    @sandbox.post("/reset")
    async def reset() -> dict[str, Any]:
        """Forget revoked keys, failures, the limit, requests and stored responses."""
        state.reset()
        return {"reset": True}

    return sandbox
