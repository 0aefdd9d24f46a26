"""The provider sandbox's app: each provider's part, health, readiness and a few counters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from .settings import SandboxSettings
from .twilio.errors import TwilioApiError, twilio_error_response
from .twilio.sandbox import TwilioSandbox


def create_app(
    settings: SandboxSettings | None = None,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`webhook_transport` lets a test receive the webhooks in-process."""
    settings = settings or SandboxSettings.from_env()
    twilio = TwilioSandbox(settings, webhook_transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await twilio.start()
        try:
            yield
        finally:
            await twilio.stop()

    app = FastAPI(
        title="ConnectFlo provider sandbox",
        description="Development and tests only: providers' APIs and their webhooks.",
        lifespan=lifespan,
    )
    app.state.twilio = twilio
    app.add_exception_handler(TwilioApiError, twilio_error_response)
    for router in twilio.routers():
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> dict[str, Any]:
        return {"status": "ready", "twilio_accounts": len(twilio.state.accounts)}

    @app.get("/metrics", response_class=PlainTextResponse, tags=["health"])
    async def metrics() -> str:
        """Prometheus text: what the sandbox recorded (it depends on no metrics library)."""
        lines = [
            "# HELP connectflo_sandbox_twilio_messages Messages the sandbox's Twilio holds",
            "# TYPE connectflo_sandbox_twilio_messages gauge",
        ]
        directions: dict[str, int] = {}
        for message in twilio.state.messages.values():
            directions[message.direction] = directions.get(message.direction, 0) + 1
        lines += [
            f'connectflo_sandbox_twilio_messages{{direction="{d}"}} {n}'
            for d, n in sorted(directions.items())
        ]
        lines += [
            "# HELP connectflo_sandbox_twilio_calls Calls the sandbox's Twilio played, by state",
            "# TYPE connectflo_sandbox_twilio_calls gauge",
        ]
        states: dict[str, int] = {}
        for call in twilio.state.calls.values():
            states[call.state] = states.get(call.state, 0) + 1
        lines += [
            f'connectflo_sandbox_twilio_calls{{state="{s}"}} {n}' for s, n in sorted(states.items())
        ]
        lines += [
            "# HELP connectflo_sandbox_twilio_webhooks Webhook requests sent, by kind",
            "# TYPE connectflo_sandbox_twilio_webhooks gauge",
        ]
        kinds: dict[str, int] = {}
        for record in twilio.state.webhooks:
            kinds[record.kind] = kinds.get(record.kind, 0) + 1
        lines += [
            f'connectflo_sandbox_twilio_webhooks{{kind="{k}"}} {n}'
            for k, n in sorted(kinds.items())
        ]
        return "\n".join(lines) + "\n"

    return app
