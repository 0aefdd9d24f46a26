"""The trigger gateway: HTTP ingress and the management API."""

from __future__ import annotations

import logging
import os

import httpx
from contracts import topics
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from servicekit.oauth import oauth_apps
from servicekit.sealing import Keyring
from servicekit.service import Kit, Service
from servicekit.tail import TopicTail
from servicekit.telemetry import exporting_spans

from trigger_gateway.adapters import conversations as conversation_store
from trigger_gateway.adapters.agents import AgentRepository
from trigger_gateway.adapters.call_turns import CallTurns
from trigger_gateway.adapters.channels import TwilioAccountRepository, ensure_channel_indexes
from trigger_gateway.adapters.chatops import ChatOpsRepository
from trigger_gateway.adapters.connections import ConnectionRepository
from trigger_gateway.adapters.dead_letters import DeadLetterReadRepository
from trigger_gateway.adapters.execution_messages import ExecutionMessageLog
from trigger_gateway.adapters.history import ExecutionReadRepository
from trigger_gateway.adapters.locks import Locks
from trigger_gateway.adapters.schedules import ScheduleRepository
from trigger_gateway.adapters.sendgrid_channels import SendGridChannelRepository
from trigger_gateway.adapters.sla_policies import SlaPolicyRepository
from trigger_gateway.adapters.store import (
    TenantRepository,
    TriggerReceiptRepository,
    ensure_indexes,
)
from trigger_gateway.adapters.watchdog_findings import WatchdogFindingRepository
from trigger_gateway.adapters.webhooks import WebhookRepository, ensure_webhook_indexes
from trigger_gateway.adapters.workflows import WorkflowRepository
from trigger_gateway.handlers import (
    agents,
    ai_configs,
    channels,
    chatops_channels,
    classification,
    commands,
    connections,
    contacts,
    conversations,
    dead_letters,
    documents,
    events,
    execution_messages,
    executions,
    knowledge,
    oauth,
    plan,
    preview,
    resource_state,
    schedules,
    sendgrid,
    sendgrid_channel,
    sla_policies,
    tenants,
    triggers,
    twilio,
    twilio_voice,
    versions,
    watchdog,
    webhooks,
    widget,
    widget_state,
    workflow_resources,
    workflows,
)
from trigger_gateway.handlers.deps import Gateway
from trigger_gateway.handlers.ingress import TriggerIngress
from trigger_gateway.handlers.oauth import OAuthGrants
from trigger_gateway.handlers.problems import install_problem_handlers
from trigger_gateway.settings import Settings

NAME = "trigger-gateway"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def assemble(kit: Kit) -> None:
        await ensure_indexes(kit.db)
        await conversation_store.ensure_indexes(kit.db)
        await ensure_channel_indexes(kit.db)
        keyring = Keyring.from_environment()
        if keyring is None:
            log.warning("no KEK (CONNECTFLO_KEKS, CONNECTFLO_KEK_FILE): Twilio accounts answer 503")
        http = httpx.AsyncClient(base_url=settings.executor_url, timeout=10)
        kit.on_stop(http.aclose)
        integrations_http = httpx.AsyncClient(base_url=settings.integrations_url, timeout=30)
        kit.on_stop(integrations_http.aclose)
        connection_store = ConnectionRepository(kit.db)
        await connection_store.ensure_indexes()
        app.state.gateway = Gateway(
            settings=settings,
            broker=kit.publisher,
            tenants=TenantRepository(kit.db),
            workflows=WorkflowRepository(kit.db),
            receipts=TriggerReceiptRepository(kit.db),
            executions=ExecutionReadRepository(kit.db),
            dead_letters=DeadLetterReadRepository(kit.db),
            connections=connection_store,
            executor_http=http,
            integrations_http=integrations_http,
            conversations=conversation_store.ConversationRepository(kit.db),
            contacts=conversation_store.ContactRepository(kit.db),
            twilio=TwilioAccountRepository(kit.db, cache_seconds=settings.twilio_cache_seconds),
            keyring=keyring,
        )
        app.state.widget_channel = await widget_state.assemble(kit, keyring)
        app.state.execution_messages = ExecutionMessageLog(kit.db)
        app.state.agents = AgentRepository(kit.db)
        await app.state.agents.ensure_indexes()
        app.state.sendgrid = SendGridChannelRepository(
            kit.db, cache_seconds=settings.twilio_cache_seconds
        )
        app.state.resources = await resource_state.assemble(kit.db)  # AI and knowledge
        # after resource_state.assemble, which creates the locks' collection
        app.state.schedules = schedule_store = ScheduleRepository(kit.db, Locks(kit.db))
        await schedule_store.ensure_indexes()
        app.state.sla_policies = sla_store = SlaPolicyRepository(kit.db, Locks(kit.db))
        await sla_store.ensure_indexes()
        await ensure_webhook_indexes(kit.db)
        app.state.webhooks = WebhookRepository(kit.db)
        app.state.watchdog_findings = WatchdogFindingRepository(kit.db)
        app.state.chatops = ChatOpsRepository(kit.db)  # Slack and Teams connections
        oauth_http = httpx.AsyncClient(timeout=10, follow_redirects=False)  # token endpoints
        kit.on_stop(oauth_http.aclose)
        app.state.oauth = OAuthGrants(oauth_apps(os.environ), oauth_http, kit.db)
        app.state.call_turns = turns = CallTurns()
        tail = TopicTail(
            topics.CALLS, turns.on_records, bootstrap_servers=kit.settings.kafka_bootstrap_servers
        )
        kit.background(tail.run)
        kit.checks[f"tail {topics.CALLS}"] = tail.ready

    service = Service(NAME, settings, assemble)
    app = FastAPI(title="ConnectFlo trigger gateway", version="0.1.0", lifespan=service.lifespan)
    install_problem_handlers(app, settings)  # RFC 9457 errors, body limit, input checks
    for router in (
        tenants.router,
        preview.router,  # before workflows.router's /{workflow_id}
        workflows.router,
        versions.router,
        executions.workflow_router,
        events.router,
        executions.router,
        execution_messages.router,
        commands.router,
        dead_letters.router,
        watchdog.router,
        connections.router,
        connections.workflow_router,
        oauth.router,
        triggers.router,
        agents.handoff_router,
        conversations.router,
        conversations.variables_router,
        agents.agents_router,
        agents.queues_router,
        agents.approvals_router,
        contacts.router,
        channels.router,
        chatops_channels.router,
        webhooks.router,
        twilio.router,
        twilio_voice.router,
        sendgrid_channel.router,
        sendgrid.router,
        plan.router,
        documents.router,
        knowledge.router,
        ai_configs.router,
        classification.router,
        workflow_resources.router,
        schedules.router,
        sla_policies.router,
    ):
        app.include_router(router)
    widget.install(app, settings)  # the chat widget's routes, and CORS per widget
    app.router.routes.extend(service.routes())  # /healthz, /readyz, /metrics
    if exporting_spans():
        # SERVER spans for the management API; the trigger fast lane in front of FastAPI opens
        # its own (handlers/ingress.py), so a trigger pays for no middleware
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
        )
    return app


def create_asgi(settings: Settings | None = None) -> TriggerIngress:
    """What the server runs: well-formed triggers are served in front of FastAPI
    (handlers/ingress.py), everything else by the FastAPI app."""
    app = create_app(settings)
    return TriggerIngress(app, lambda: app.state.gateway)
