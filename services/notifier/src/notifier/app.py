"""The notifier, assembled from the service kit: delivers messages to people (chat replies on
the replies topic, SMS and WhatsApp through the tenants' Twilio accounts, email through their
SendGrid channels), logs them in their
conversations, records their delivery status and settles the waiting executions; and delivers
conversation events to the tenants' webhook endpoints."""

from __future__ import annotations

import logging
from functools import partial

from servicekit.sealing import Keyring
from servicekit.service import Kit, Service
from starlette.applications import Starlette

from notifier.adapters.agents import AgentBoardStore
from notifier.adapters.attachments import AttachmentFetcher
from notifier.adapters.chatops_accounts import ChatOpsConnections
from notifier.adapters.conversations import ConversationUpdates
from notifier.adapters.email_threads import EmailThreads
from notifier.adapters.messages import MessageLog
from notifier.adapters.sendgrid_accounts import SendGridAccounts
from notifier.adapters.sendgrid_client import SendGridMail
from notifier.adapters.slack_client import SlackMessages
from notifier.adapters.store import NotificationRepository
from notifier.adapters.teams_client import TeamsWebhooks
from notifier.adapters.twilio_accounts import TwilioAccounts
from notifier.adapters.twilio_client import TwilioMessages
from notifier.adapters.webhook_client import WebhookClient
from notifier.adapters.webhook_deliveries import WebhookDeliveries
from notifier.adapters.webhook_endpoints import WebhookEndpoints
from notifier.chatops_sending import ChatOpsSending
from notifier.delivery_status import DeliveryStatus
from notifier.domain.webhooks import RetryPolicy
from notifier.email_sending import EmailSending
from notifier.handlers.kafka import consume
from notifier.routing import AgentRouter
from notifier.sending import TwilioSending
from notifier.service import NotificationService
from notifier.settings import Settings
from notifier.webhooks import WebhookDispatcher, WebhookEvents

NAME = "notifier"
log = logging.getLogger(__name__)


async def assemble(kit: Kit, settings: Settings) -> None:
    ferretdb = await kit.mongo.is_ferretdb()  # equality reads, not $in (find_matching)
    notifications = NotificationRepository(kit.db, one_by_one=ferretdb)
    messages = MessageLog(kit.db, one_by_one=ferretdb)
    await notifications.ensure_indexes()
    await messages.ensure_indexes()
    conversations = ConversationUpdates(kit.db, one_by_one=ferretdb)
    keyring = Keyring.from_environment()
    if keyring is None:
        log.warning("no KEK (CONNECTFLO_KEKS, CONNECTFLO_KEK_FILE): no SMS or WhatsApp is sent")
    if not settings.status_callback_url:
        log.warning("NOTIFIER_STATUS_CALLBACK_URL unset: Twilio will report no delivery status")
    twilio = TwilioMessages(
        api_base_url=settings.twilio_api_base_url,
        timeout_seconds=settings.twilio_timeout_seconds,
        max_in_flight=settings.twilio_max_in_flight,
    )
    kit.on_stop(twilio.close)
    hooks = await webhooks(kit, settings, keyring)
    status = DeliveryStatus(
        messages,
        conversations,
        kit.publish,
        announce=hooks.on_published,
        reported=hooks.on_events,
        wait_seconds=settings.report_wait_seconds,
    )
    sending = TwilioSending(
        TwilioAccounts(
            kit.db, keyring, ttl_seconds=settings.accounts_cache_seconds, one_by_one=ferretdb
        ),
        conversations,
        messages,
        twilio,
        status_callback_url=settings.status_callback_url,
    )
    chatops = chatops_sending(kit, settings, notifications, keyring, ferretdb)
    service = NotificationService(
        notifications,
        messages,
        conversations,
        sending,
        kit.publish,
        hooks.on_published,
        chatops,
        email=email_sending(kit, settings, keyring, conversations, messages, ferretdb),
    )
    board = AgentBoardStore(kit.db, one_by_one=ferretdb)
    await board.ensure_indexes()
    consume(kit, service, status, hooks, AgentRouter(board, kit.publish, hooks.on_published))


def chatops_sending(
    kit: Kit,
    settings: Settings,
    notifications: NotificationRepository,
    keyring: Keyring | None,
    ferretdb: bool,
) -> ChatOpsSending:
    """Slack (slack-sdk) and Teams (incoming webhooks) posts, their clients closed at
    shutdown."""
    slack = SlackMessages(
        base_url=settings.slack_api_base_url,
        timeout_seconds=settings.slack_timeout_seconds,
        max_in_flight=settings.chatops_max_in_flight,
    )
    teams = TeamsWebhooks(
        timeout_seconds=settings.teams_timeout_seconds,
        max_in_flight=settings.chatops_max_in_flight,
        allow_private=settings.webhook_allow_private_urls,
    )
    kit.on_stop(slack.close)
    kit.on_stop(teams.close)
    connections = ChatOpsConnections(
        kit.db, keyring, ttl_seconds=settings.accounts_cache_seconds, one_by_one=ferretdb
    )
    return ChatOpsSending(notifications, connections, slack, teams)


def email_sending(
    kit: Kit,
    settings: Settings,
    keyring: Keyring | None,
    conversations: ConversationUpdates,
    messages: MessageLog,
    ferretdb: bool,
) -> EmailSending:
    """Email through the tenants' SendGrid channels (the SDK's pool shut at shutdown)."""
    mail = SendGridMail(
        api_base_url=settings.sendgrid_api_base_url,
        timeout_seconds=settings.sendgrid_timeout_seconds,
        max_in_flight=settings.sendgrid_max_in_flight,
    )
    kit.on_stop(mail.close)
    accounts = SendGridAccounts(
        kit.db, keyring, ttl_seconds=settings.accounts_cache_seconds, one_by_one=ferretdb
    )
    attachments = AttachmentFetcher(
        timeout_seconds=settings.sendgrid_timeout_seconds,
        max_bytes=settings.email_attachment_max_bytes,
        allow_private=settings.webhook_allow_private_urls,
    )
    kit.on_stop(attachments.close)
    threads = EmailThreads(kit.db)
    return EmailSending(accounts, threads, conversations, messages, mail, attachments)


async def webhooks(kit: Kit, settings: Settings, keyring: Keyring | None) -> WebhookEvents:
    """The tenants' webhooks: the consumers' handler, and the dispatcher as a background
    task (its HTTP client closed at shutdown)."""
    endpoints = WebhookEndpoints(
        kit.db, keyring, ttl_seconds=settings.webhook_endpoints_cache_seconds
    )
    deliveries = WebhookDeliveries(kit.db)
    await endpoints.ensure_indexes()
    await deliveries.ensure_indexes()
    client = WebhookClient(
        timeout_seconds=settings.webhook_timeout_seconds,
        max_in_flight=settings.webhook_max_in_flight,
        allow_private=settings.webhook_allow_private_urls,
    )
    kit.on_stop(client.close)
    policy = RetryPolicy(
        base_seconds=settings.webhook_retry_base_seconds,
        max_delay_seconds=settings.webhook_retry_max_delay_seconds,
        max_attempts=settings.webhook_max_attempts,
        max_age_seconds=settings.webhook_max_age_seconds,
    )
    dispatcher = WebhookDispatcher(
        endpoints,
        deliveries,
        client,
        policy,
        poll_seconds=settings.webhook_poll_seconds,
        lease_seconds=settings.webhook_timeout_seconds + 30,
    )
    kit.background(dispatcher.run)
    return WebhookEvents(endpoints, deliveries, dispatcher.wake)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    return Service(NAME, settings, partial(assemble, settings=settings)).starlette()
