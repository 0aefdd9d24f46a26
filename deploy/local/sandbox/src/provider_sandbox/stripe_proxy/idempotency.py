"""Stripe in front of stripe-mock: every request to `/stripe/v1/...` is forwarded to stripe-mock
(Stripe's own OpenAPI-driven mock: paths, fields, errors) and recorded, with what stripe-mock
does not do, Stripe's idempotent requests
(https://docs.stripe.com/api/idempotent_requests): a POST with an `Idempotency-Key` is
performed once per key and API key; the same key again with the same parameters answers the
first result (`Idempotent-Replayed: true`), with other parameters 400 `idempotency_error`; while
the first is in flight, 409 `idempotency_error`. Keys are kept 24 hours.

A client points at it by its connection's `base_url` (`{sandbox}/stripe`). For tests:
`GET /sandbox/stripe/requests` lists what was asked (method, path, key, whether performed or
replayed), so a test counts the refunds made per idempotency key."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

KEPT_SECONDS = 24 * 3600
FORWARDED = ("authorization", "stripe-version", "stripe-account", "content-type", "user-agent",
             "x-stripe-client-user-agent", "idempotency-key")  # fmt: skip


@dataclass
class Kept:
    params: str
    status: int | None = None  # None: in flight
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class StripeProxyState:
    upstream: str
    kept: dict[tuple[str, str], Kept] = field(default_factory=dict)  # (api key, idem key)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.kept.clear()
        self.requests.clear()


def _idempotency_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": "idempotency_error", "message": message}}, status)


def stripe_proxy_routers(state: StripeProxyState, http: httpx.AsyncClient) -> list[APIRouter]:
    api = APIRouter(tags=["stripe"])

    @api.api_route("/stripe/v1/{path:path}", methods=["GET", "POST", "DELETE"])
    async def forward(path: str, request: Request) -> Response:
        body = await request.body()
        key = request.headers.get("idempotency-key")
        record: dict[str, Any] = {"method": request.method, "path": f"/v1/{path}",
                  "idempotency_key": key,
                  "outcome": "performed"}  # fmt: skip
        state.requests.append(record)
        kept: Kept | None = None
        if request.method == "POST" and key:
            scope = (request.headers.get("authorization", ""), key)
            now = time.monotonic()
            for stale in [k for k, v in state.kept.items() if now - v.at > KEPT_SECONDS]:
                del state.kept[stale]
            params = hashlib.sha256(f"{path}\0".encode() + body).hexdigest()
            kept = state.kept.get(scope)
            if kept is not None:
                if kept.params != params:
                    record["outcome"] = "refused"
                    return _idempotency_error(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                    )
                if kept.status is None:
                    record["outcome"] = "conflict"
                    return _idempotency_error(
                        409,
                        "There is currently another in-progress request using this Stripe "
                        "Idempotency Key (that probably means you submitted twice, and the "
                        "other request is still going through). Please retry this request later.",
                    )
                record["outcome"] = "replayed"
                headers = {**kept.headers, "Idempotent-Replayed": "true", "Idempotency-Key": key}
                return Response(kept.body, kept.status, headers=headers)
            kept = state.kept[scope] = Kept(params)
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
        try:
            answer = await http.request(
                request.method,
                f"{state.upstream}/v1/{path}",
                params=request.query_params,
                content=body,
                headers=headers,
            )
        except httpx.HTTPError:
            if kept is not None and key:
                state.kept.pop((request.headers.get("authorization", ""), key), None)
            record["outcome"] = "unavailable"
            return JSONResponse(
                {"error": {"type": "api_error", "message": "stripe-mock did not answer"}}, 502
            )
        shown = {"content-type": answer.headers.get("content-type", "application/json"),
                 "request-id": answer.headers.get("request-id", "")}  # fmt: skip
        if kept is not None:
            if answer.status_code >= 500:  # Stripe does not keep a failure it could not finish
                state.kept.pop((request.headers.get("authorization", ""), str(key)), None)
            else:
                kept.status, kept.body, kept.headers = answer.status_code, answer.content, shown
        record["status"] = answer.status_code
        return Response(answer.content, answer.status_code, headers=shown)

    sandbox = APIRouter(prefix="/sandbox/stripe", tags=["sandbox"])

    @sandbox.get("/requests")
    async def requests(path: str | None = None) -> dict[str, Any]:
        """What was asked (newest last), optionally of one path (e.g. /v1/refunds)."""
        chosen = [r for r in state.requests if path is None or r["path"] == path]
        return {"requests": chosen}

    @sandbox.delete("")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return [api, sandbox]
