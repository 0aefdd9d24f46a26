"""A tenant's Twilio account as the API accepts it: account sid, auth token (sealed at rest,
never answered), and the numbers customers write to (SMS, and WhatsApp where enabled).

Each number has a stable id (``pn_`` + 24 hex of SHA-256 of tenant and number): the same
number of the same tenant keeps its id when it is removed and connected again, so a
workflow's trigger filter (``phoneNumberIds``) that names it keeps working. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

TWILIO_AUTH_TOKEN = "twilio.auth_token"
"""The purpose the auth token is sealed for (servicekit.sealing); the notifier opens it so."""

ACCOUNT_SID = r"^AC[0-9a-f]{32}$"
AUTH_TOKEN = r"^[0-9a-fA-F]{32}$"
E164 = r"^\+[1-9][0-9]{6,14}$"
MAX_NUMBERS = 100
WHATSAPP_PREFIX = "whatsapp:"


def number_id_for(tenant_id: str, phone_number: str) -> str:
    return "pn_" + hashlib.sha256(json.dumps([tenant_id, phone_number]).encode()).hexdigest()[:24]


class PhoneNumberSpec(BaseModel):
    """One of the tenant's Twilio numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    phone_number: str = Field(
        pattern=E164, description="E.164, as Twilio shows it", examples=["+15017122661"]
    )
    whatsapp: bool = Field(
        False, strict=True, description="Also a WhatsApp sender (`whatsapp:` addresses)."
    )
    name: str | None = Field(None, min_length=1, max_length=100)


class TwilioAccountSpec(BaseModel):
    """`PUT /v1/channels/twilio`: the account, its auth token and its numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    account_sid: str = Field(pattern=ACCOUNT_SID, examples=["AC" + "0" * 32])
    auth_token: Annotated[
        SecretStr | None,
        Field(
            description="The account's Auth Token (32 hex digits): sealed at rest, never "
            "answered. May be left out when the account sid is the one connected already "
            "(the stored token is kept); otherwise 409.",
            json_schema_extra={"pattern": AUTH_TOKEN},
        ),
    ] = None
    numbers: list[PhoneNumberSpec] = Field(default_factory=list, max_length=MAX_NUMBERS)

    @field_validator("auth_token")
    @classmethod
    def _hex_token(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not re.fullmatch(AUTH_TOKEN, token.get_secret_value()):
            raise ValueError("must be 32 hexadecimal digits, as Twilio shows it")
        return token

    @field_validator("numbers")
    @classmethod
    def _each_number_once(cls, numbers: list[PhoneNumberSpec]) -> list[PhoneNumberSpec]:
        seen: set[str] = set()
        for number in numbers:
            if number.phone_number in seen:
                raise ValueError(f"{number.phone_number} is listed twice")
            seen.add(number.phone_number)
        return numbers


def plain_address(address: str) -> tuple[str, bool]:
    """A Twilio address without its channel prefix, and whether it was WhatsApp's:
    ``whatsapp:+15017122661`` -> (``+15017122661``, True)."""
    if address.startswith(WHATSAPP_PREFIX):
        return address[len(WHATSAPP_PREFIX) :], True
    return address, False
