"""A tenant's SendGrid channel as the API accepts it: the API key (sealed at rest, never
answered), the sender (from email and name), the Event Webhook's verification key (as SendGrid
shows it: base64 of the DER SubjectPublicKeyInfo of a P-256 key) and the address replies go to
(one at a host whose MX is SendGrid's Inbound Parse). Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sendgrid.helpers.eventwebhook import EventWebhook  # type: ignore[import-untyped, unused-ignore]

SENDGRID_API_KEY = "sendgrid.api_key"
"""The purpose the API key is sealed for (servicekit.sealing); the notifier opens it so."""
SENDGRID_INBOUND_TOKEN = "sendgrid.inbound_token"
"""The purpose the Inbound Parse URL's secret is sealed for (to answer the URL again)."""

API_KEY = r"^SG\.[A-Za-z0-9_-]{8,64}\.[A-Za-z0-9_-]{8,128}$"
EMAIL = r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$"


def token_digest(token: str) -> str:
    """What is kept to check an Inbound Parse URL's secret (the secret itself is sealed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def valid_public_key(key: str) -> bool:
    """Whether ``key`` is a P-256 public key SendGrid's EventWebhook helper can verify with."""
    try:
        loaded = EventWebhook().convert_public_key_to_ecdsa(key)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return isinstance(loaded, ec.EllipticCurvePublicKey) and isinstance(loaded.curve, ec.SECP256R1)


class SendGridChannelSpec(BaseModel):
    """`PUT /v1/channels/sendgrid`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    api_key: Annotated[
        SecretStr | None,
        Field(
            description="A SendGrid API key with Mail Send access (`SG.<id>.<secret>`): sealed "
            "at rest, never answered. May be left out to keep the stored one; otherwise 409.",
            json_schema_extra={"pattern": API_KEY},
        ),
    ] = None
    from_email: str = Field(pattern=EMAIL, max_length=254, examples=["support@acme.com"])
    from_name: str | None = Field(None, min_length=1, max_length=100)
    event_webhook_public_key: str | None = Field(
        None,
        max_length=400,
        description="The Signed Event Webhook's verification key, as SendGrid's Mail Settings "
        "show it (base64, no PEM armour). Without it every event POST is refused (403).",
    )
    inbound_address: str | None = Field(
        None,
        pattern=EMAIL,
        max_length=254,
        description="Where customers' replies go (Reply-To of every email): an address at the "
        "host configured for Inbound Parse. Without it replies go to `from_email`.",
        examples=["support@reply.acme.com"],
    )

    @field_validator("api_key")
    @classmethod
    def _key_shape(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not re.fullmatch(API_KEY, key.get_secret_value()):
            raise ValueError("must be a SendGrid API key (SG.<id>.<secret>)")
        return key

    @field_validator("event_webhook_public_key")
    @classmethod
    def _key_loads(cls, key: str | None) -> str | None:
        if key is not None and not valid_public_key(key.strip()):
            raise ValueError("is not a public key SendGrid shows (base64 DER, P-256)")
        return key.strip() if key is not None else None
