"""Configuration from the environment: prefix NOTIFIER_, plus the shared infrastructure names
(servicekit.settings) and the KEKs that open the tenants' sealed credentials
(``CONNECTFLO_KEKS`` / ``CONNECTFLO_KEK_FILE``, servicekit.sealing) and the tenants' webhook
endpoints' secrets."""

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    port: int = 8084
    group_id: str = "connectflo-notifier"
    twilio_api_base_url: str | None = Field(
        None,
        description="Twilio's REST API base URL; unset: Twilio's own (https://api.twilio.com). "
        "Locally the provider sandbox (http://127.0.0.1:8090).",
    )
    twilio_timeout_seconds: float = Field(
        10, gt=0, description="How long one create waits for Twilio's answer."
    )
    twilio_max_in_flight: int = Field(
        32, ge=1, description="Creates this process has open at once (all accounts)."
    )
    sendgrid_api_base_url: str | None = Field(
        None,
        description="SendGrid's API base URL; unset: SendGrid's own (https://api.sendgrid.com). "
        "Locally the provider sandbox (http://127.0.0.1:8090).",
    )
    sendgrid_timeout_seconds: float = Field(
        10, gt=0, description="How long one Mail Send waits for SendGrid's answer."
    )
    sendgrid_max_in_flight: int = Field(
        16, ge=1, description="Mail Sends this process has open at once (the SDK's thread pool)."
    )
    email_attachment_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1,
        description="An email attachment given by URL larger than this is refused "
        "(InvalidMessage); SendGrid takes 30 MB for the whole email.",
    )
    status_callback_url: str | None = Field(
        None,
        description="Where Twilio reports a message's status: the gateway's public URL + "
        "/webhooks/twilio/status (each message's StatusCallback names it in the query). Unset: "
        "no status callbacks (messages stay as sent).",
    )
    report_wait_seconds: float = Field(
        15,
        ge=0,
        description="How long a status report about a message whose send is not answered yet "
        "(the callback overtook Twilio's answer to the create) waits for the answer before it "
        "is kept unapplied (delivery_reports).",
    )
    accounts_cache_seconds: float = Field(
        5, ge=0, description="How long a tenant's Twilio account is kept before it is read again."
    )
    webhook_timeout_seconds: float = Field(
        10, gt=0, description="How long one webhook POST waits for the endpoint's answer."
    )
    webhook_max_in_flight: int = Field(
        32, ge=1, description="Webhook POSTs this process has open at once (all endpoints)."
    )
    webhook_retry_base_seconds: float = Field(
        5,
        gt=0,
        description="The delay after a webhook's first failed attempt; it doubles with every "
        "failure (the upper half of it drawn at random), up to webhook_retry_max_delay_seconds.",
    )
    webhook_retry_max_delay_seconds: float = Field(3600, gt=0)
    webhook_max_attempts: int = Field(
        30, ge=1, description="Attempts at one webhook delivery before it is marked failed."
    )
    webhook_max_age_seconds: float = Field(
        24 * 3600,
        gt=0,
        description="A webhook delivery not done this long after its event is marked failed.",
    )
    webhook_poll_seconds: float = Field(
        1.0,
        gt=0,
        description="How often due webhook retries are looked for (new events are sent at once).",
    )
    webhook_endpoints_cache_seconds: float = Field(
        1.0, ge=0, description="How long a tenant's webhook endpoints are kept before a re-read."
    )
    webhook_allow_private_urls: bool = Field(
        False,
        validation_alias=AliasChoices(
            "NOTIFIER_WEBHOOK_ALLOW_PRIVATE_URLS", "WEBHOOK_ALLOW_PRIVATE_URLS"
        ),
        description="Send webhooks to loopback, private and link-local addresses (the local "
        "configuration and tests: a receiver on 127.0.0.1). Off: refused (SSRF guard).",
    )
    # Slack and Teams (notifier.chatops_sending)
    slack_api_base_url: str | None = Field(
        None,
        description="Slack's Web API base URL; unset: Slack's own (https://slack.com/api/). "
        "Locally the provider sandbox (http://127.0.0.1:8090/api/).",
    )
    slack_timeout_seconds: float = Field(
        10, gt=0, description="How long one chat.postMessage waits for Slack's answer."
    )
    teams_timeout_seconds: float = Field(
        10, gt=0, description="How long one post to a Teams incoming webhook waits."
    )
    chatops_max_in_flight: int = Field(
        32, ge=1, description="Slack calls and Teams posts this process has open at once (each)."
    )
