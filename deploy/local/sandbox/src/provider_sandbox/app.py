"""The provider sandbox's app: each provider's part, health, readiness and a few counters."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from .hubspot.crm import HubSpotState, hubspot_routers
from .jira.rest import JiraState, jira_routers
from .oauth import Issuer, OAuthState, oauth_routers
from .odoo.rpc import odoo_routers
from .odoo.state import OdooState
from .openai.api import openai_routers
from .openai.state import OpenAIState
from .salesforce.rest import SalesforceState, salesforce_grant, salesforce_routers
from .sendgrid.errors import SendGridApiError, sendgrid_error_response
from .sendgrid.sandbox import SendGridSandbox
from .settings import SandboxSettings
from .shopify.graphql_api import shopify_routers
from .shopify.store import ShopifyState
from .slack.inspection import inspection_router as slack_inspection_router
from .slack.state import SlackState
from .slack.web_api import web_api_router as slack_web_api_router
from .stripe_proxy.idempotency import StripeProxyState, stripe_proxy_routers
from .teams.webhooks import TeamsState, teams_routers
from .twilio.errors import TwilioApiError, twilio_error_response
from .twilio.sandbox import TwilioSandbox
from .zendesk.support import ZendeskState, zendesk_routers


def create_app(
    settings: SandboxSettings | None = None,
    *,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`webhook_transport` lets a test receive the webhooks in-process."""
    settings = settings or SandboxSettings.from_env()
    twilio = TwilioSandbox(settings, webhook_transport)
    sendgrid = SendGridSandbox(settings, webhook_transport)
    stripe_http = httpx.AsyncClient(timeout=30)  # to stripe-mock

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await twilio.start()
        await sendgrid.start()
        try:
            yield
        finally:
            await sendgrid.stop()
            await twilio.stop()
            await stripe_http.aclose()

    app = FastAPI(
        title="ConnectFlo provider sandbox",
        description="Development and tests only: providers' APIs and their webhooks.",
        lifespan=lifespan,
    )
    app.state.twilio = twilio
    app.add_exception_handler(TwilioApiError, twilio_error_response)
    for router in twilio.routers():
        app.include_router(router)
    slack, teams, odoo, shopify = SlackState(), TeamsState(), OdooState(), ShopifyState()
    app.state.slack, app.state.teams, app.state.odoo = slack, teams, odoo
    app.state.shopify = shopify
    hubspot = app.state.hubspot = HubSpotState()
    zendesk = app.state.zendesk = ZendeskState()
    jira = app.state.jira = JiraState()
    openai = app.state.openai = OpenAIState()
    oauth = app.state.oauth = OAuthState()
    oauth.issuers["jira"] = Issuer(jira.by_site, jira.tokens)
    stripe = app.state.stripe = StripeProxyState(settings.stripe_mock_url)
    salesforce = app.state.salesforce = SalesforceState()
    oauth.issuers["salesforce"] = Issuer(salesforce.orgs.get, salesforce.tokens, salesforce_grant)
    oauth.issuers["hubspot"] = Issuer(hubspot.by_portal, hubspot.tokens)
    oauth.issuers["zendesk"] = Issuer(zendesk.accounts.get, zendesk.tokens)
    oauth.issuers["shopify"] = Issuer(shopify.stores.get, shopify.tokens)
    for router in [
        slack_web_api_router(slack),
        slack_inspection_router(slack),
        *teams_routers(teams),
        *odoo_routers(odoo),
        *shopify_routers(shopify),
        *hubspot_routers(hubspot),
        *zendesk_routers(zendesk),
        *jira_routers(jira),
        *openai_routers(openai),
        *salesforce_routers(salesforce),
        *stripe_proxy_routers(stripe, stripe_http),
        *oauth_routers(oauth),
    ]:
        app.include_router(router)
    app.state.sendgrid = sendgrid
    app.add_exception_handler(SendGridApiError, sendgrid_error_response)
    for router in sendgrid.routers():
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
        state = twilio.state
        lines = [
            *_gauge(
                "messages",
                "Messages the sandbox's Twilio holds",
                "direction",
                (m.direction for m in state.messages.values()),
            ),
            *_gauge(
                "calls",
                "Calls the sandbox's Twilio played, by state",
                "state",
                (c.state for c in state.calls.values()),
            ),
            *_gauge(
                "webhooks",
                "Webhook requests sent, by kind",
                "kind",
                (w.kind for w in state.webhooks),
            ),
        ]
        return "\n".join(lines) + "\n"

    return app


def _gauge(name: str, help_text: str, label: str, values: Iterable[str]) -> list[str]:
    """A Prometheus gauge counting `values` by label value."""
    metric = f"connectflo_sandbox_twilio_{name}"
    counts = Counter(values)
    return [
        f"# HELP {metric} {help_text}",
        f"# TYPE {metric} gauge",
        *(f'{metric}{{{label}="{value}"}} {n}' for value, n in sorted(counts.items())),
    ]
