"""The sandbox's SendGrid assembled: state, rate limits, the mail lifecycle and its webhooks,
SendGrid's own paths (/v3/...) and the sandbox's (/sandbox/sendgrid/...)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from ..settings import SandboxSettings
from .auth import RateLimiter, account_guard
from .delivery import MailLifecycle
from .inbound import inbound_router
from .inspection import inspection_router
from .mail_send import mail_send_router
from .settings_api import settings_router
from .state import SendGridState
from .webhooks import WebhookSender


class SendGridSandbox:
    def __init__(
        self, settings: SandboxSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.state = SendGridState()
        self.limiter = RateLimiter(settings.sendgrid_rps)
        self.max_bytes = settings.sendgrid_max_bytes
        self.sender = WebhookSender(
            self.state,
            timeout_s=settings.sendgrid_webhook_timeout_s,
            retries=settings.sendgrid_webhook_retries,
            backoff_s=settings.sendgrid_webhook_backoff_ms / 1000,
            transport=transport,
        )
        self.lifecycle = MailLifecycle(
            self.state, self.sender, delay_s=settings.sendgrid_delivery_delay_ms / 1000
        )

    async def start(self) -> None:
        await self.sender.open()

    async def stop(self) -> None:
        await self.lifecycle.stop()
        await self.sender.close()

    async def reset(self) -> None:
        await self.lifecycle.stop()
        self.state.reset()
        self.limiter.reset()

    def routers(self) -> list[APIRouter]:
        guard = account_guard(self.state, self.limiter)
        return [
            mail_send_router(self.state, guard, self.max_bytes, self.lifecycle.start),
            settings_router(self.state, guard),
            inbound_router(self.state, self.sender),
            inspection_router(self.state, self.sender, self.reset),
        ]
