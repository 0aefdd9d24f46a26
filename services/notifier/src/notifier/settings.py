"""Configuration from the environment: prefix NOTIFIER_, plus the shared infrastructure names
(servicekit.settings) and the KEKs that open the tenants' sealed credentials
(``CONNECTFLO_KEKS`` / ``CONNECTFLO_KEK_FILE``, servicekit.sealing)."""

from pydantic import Field
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
    status_callback_url: str | None = Field(
        None,
        description="Where Twilio reports a message's status: the gateway's public URL + "
        "/webhooks/twilio/status. Unset: no status callbacks (messages stay as sent).",
    )
    accounts_cache_seconds: float = Field(
        5, ge=0, description="How long a tenant's Twilio account is kept before it is read again."
    )
