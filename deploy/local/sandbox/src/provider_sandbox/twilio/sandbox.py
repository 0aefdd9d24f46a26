"""The sandbox's Twilio assembled: its state, the webhook sender, the delivery lifecycle, the
call player and the routes (Twilio's own paths, then the sandbox's under /sandbox/twilio)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request

from ..settings import SandboxSettings
from .accounts import accounts_router
from .auth import RateLimiter, account_guard, credentials_guard
from .caller import caller_router
from .calls_api import calls_router
from .delivery import DeliveryLifecycle
from .errors import not_found
from .inbound import Customer, inbound_router
from .inspection import inspection_router
from .messages import messages_router
from .numbers import numbers_router
from .services import services_router
from .state import TwilioState
from .twiml_player import CallPlayer
from .webhooks import WebhookSender


class TwilioSandbox:
    def __init__(
        self, settings: SandboxSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.state = TwilioState(settings.twilio_accounts)
        self.limiter = RateLimiter(settings.twilio_rps)
        self.sender = WebhookSender(
            self.state,
            timeout_s=settings.twilio_webhook_timeout_s,
            backoff_s=settings.twilio_callback_backoff_ms / 1000,
            transport=transport,
        )
        self.lifecycle = DeliveryLifecycle(
            self.state,
            self.sender,
            delay_s=settings.twilio_delivery_delay_ms / 1000,
            callback_retries=settings.twilio_callback_retries,
        )
        self.calls = CallPlayer(
            self.state,
            self.sender,
            pause_scale=settings.twilio_pause_scale,
            gather_timeout_scale=settings.gather_timeout_scale,
            callback_retries=settings.twilio_callback_retries,
        )

    async def start(self) -> None:
        await self.sender.open()

    async def stop(self) -> None:
        await self.lifecycle.stop()
        await self.calls.stop()
        await self.sender.close()

    async def reset(self) -> None:
        await self.lifecycle.stop()
        await self.calls.stop()
        self.state.reset()
        self.limiter.reset()

    def routers(self) -> list[APIRouter]:
        guard = account_guard(self.state, self.limiter)
        customer = Customer(self.state, self.sender, self.lifecycle.start)
        return [
            accounts_router(self.state, guard),
            numbers_router(self.state, guard),
            messages_router(self.state, guard, self.lifecycle.start),
            services_router(self.state, credentials_guard(self.state, self.limiter)),
            calls_router(self.state, guard, self.calls),
            inbound_router(customer),
            caller_router(self.state, self.calls),
            inspection_router(self.state, self.reset),
            _unknown_paths(),
        ]


def _unknown_paths() -> APIRouter:
    """Twilio answers 20404 for any other path under its APIs."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/2010-04-01/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    @router.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def unknown(request: Request) -> None:
        raise not_found(request.url.path)

    return router
