"""Configuration from the environment: prefix GATEWAY_, plus the shared infrastructure names
(servicekit.settings)."""

from contracts.ai import PLANS
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings

_LARGEST_DOCUMENT = max(limits.maxDocumentBytes for limits in PLANS.values())
DOCUMENT_BODY_BYTES = -(-_LARGEST_DOCUMENT * 4 // 3) + (1 << 20)  # base64, and 1 MiB more


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    port: int = 8080
    # a caller waits for these: a 503 with Retry-After comes within 5 s, not after its timeout
    mongo_timeout_seconds: float = 3.0
    publish_timeout_seconds: float = 3.0
    admin_token: str = Field(
        "dev-admin-token",
        description="Guards tenant creation. Set a real secret outside development.",
    )
    executor_url: str = Field(
        "http://127.0.0.1:8081",
        validation_alias=AliasChoices("GATEWAY_EXECUTOR_URL", "EXECUTOR_URL"),
        description="The executor validates workflow definitions before they are saved.",
    )
    integrations_url: str = Field(
        "http://127.0.0.1:8083",
        validation_alias=AliasChoices("GATEWAY_INTEGRATIONS_URL", "INTEGRATIONS_URL"),
        description='The integrations service answers "check connection" (the provider\'s '
        "cheap read with the stored credentials).",
    )
    public_url: str = Field("http://127.0.0.1:8080", description="Base URL printed in links.")
    voice_turn_seconds: float = Field(
        10.0,
        gt=0,
        le=13,
        description="How long a Twilio voice request waits for its turn before a hold "
        "(Twilio gives up at 15 s).",
    )
    voice_holds: int = Field(
        3, ge=0, description="Holds before a caller who got no answer hears an apology."
    )
    max_body_bytes: int = Field(
        1 << 20, ge=1, description="Larger request bodies are refused (413) before parsing."
    )
    max_document_body_bytes: int = Field(
        DOCUMENT_BODY_BYTES,
        ge=1,
        description="The body limit of a document upload (POST /v1/documents, PUT "
        "/v1/documents/{id}): the largest plan's maxDocumentBytes in base64 and the JSON "
        "around it. Each tenant's plan then limits the document itself (413 naming "
        "maxDocumentBytes).",
    )
    webhook_allow_private_urls: bool = Field(
        False,
        validation_alias=AliasChoices(
            "GATEWAY_WEBHOOK_ALLOW_PRIVATE_URLS", "WEBHOOK_ALLOW_PRIVATE_URLS"
        ),
        description="Webhook endpoints may be localhost or a non-public IP address (the local "
        "configuration and tests). Off: refused (422), the SSRF guard.",
    )
    webhooks_per_tenant: int = Field(20, ge=1, description="Webhook endpoints a tenant may have.")
    twilio_cache_seconds: float = Field(
        10.0,
        ge=0,
        description="How long a Twilio webhook's lookup (the number's tenant and account) is "
        "kept; a signature that does not verify with it is checked again with what is stored.",
    )
    sendgrid_event_window_seconds: float = Field(
        600,
        gt=0,
        description="A SendGrid Event Webhook signed longer ago (or ahead) than this is refused "
        "(403): a captured request cannot be replayed later.",
    )
