"""SLA policies and their clocks, as every service names them (docs/architecture.md, *SLA
clocks*).

A tenant's policy sets targets for the three clocks of a conversation (first response, next
response, resolution), by priority and channel, counted in business hours (a weekly calendar in
an IANA zone, closed on a country's public holidays and the tenant's own dates). The gateway
validates and stores policies (`/v1/sla-policies`) and shows a conversation's clocks; the
scheduler's SLA keeper publishes SlaClockCrossed when a clock is at risk or breached, and
starts the `SLA At Risk` / `SLA Breached` workflows."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

SLA_POLICIES = "sla_policies"  # _id slp_<hex>: tenant, the spec, revision
SLA_CLOCKS = "sla_clocks"  # _id tenant:conversation: the keeper's agenda and what it announced
SLA_BREACHED = "SLA Breached"  # trigger types the keeper starts
SLA_AT_RISK = "SLA At Risk"
Metric = Literal["first_response", "next_response", "resolution"]
Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CHANNEL = r"^[a-z_]{2,20}$"  # chat, sms, whatsapp, voice, email, ...
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


class OpeningHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = Field(pattern=HHMM, examples=["09:00"])
    end: str = Field(pattern=HHMM, examples=["17:00"], description="`24:00`: until midnight.")


class BusinessHours(BaseModel):
    """When the clocks run: weekly hours in a time zone, less holidays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Berlin"])
    weekly: dict[Weekday, list[OpeningHours]] = Field(
        description="Each weekday's opening hours (local wall-clock times); a day left out is "
        "closed.",
        examples=[{"mon": [{"start": "09:00", "end": "17:00"}]}],
    )
    holidays_country: str | None = Field(
        None,
        pattern=r"^[A-Z]{2,3}$",
        description="Closed on this country's public holidays (ISO 3166-1, as the `holidays` "
        "package knows them).",
    )
    holidays_subdivision: str | None = Field(None, min_length=1, max_length=10)
    closed_dates: list[date] = Field(default_factory=list, max_length=1000)


class SlaTarget(BaseModel):
    """One clock's target; the most specific one matching a conversation applies (priority
    and channel, then priority, then channel, then neither)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Metric
    seconds: int = Field(strict=True, ge=1, le=366 * 86400, description="Business seconds.")
    priority: Priority | None = None
    channel: str | None = Field(None, pattern=CHANNEL, examples=["sms"])


class SlaPolicySpec(BaseModel):
    """A policy as saved (the API's body). A conversation gets the first active policy (by
    `position`, then name) whose `channels` include its channel (empty: every channel)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    is_active: bool = Field(True, strict=True)
    position: int = Field(0, strict=True, ge=0, le=10_000)
    channels: list[Annotated[str, Field(pattern=CHANNEL)]] = Field(
        default_factory=list, max_length=20, description="Empty: every channel."
    )
    targets: list[SlaTarget] = Field(min_length=1, max_length=100)
    business_hours: BusinessHours | None = Field(
        None, description="None: around the clock (wall time)."
    )
    at_risk_fraction: float = Field(
        0.8, gt=0, lt=1, description="A clock is at risk once this share of its target is used."
    )
    pause_while_waiting_on_customer: bool = Field(True, strict=True)
    replies_that_count: Literal["any", "agent"] = Field(
        "any",
        description="Which outbound messages answer the customer: any (the bot's too) or an "
        "agent's only.",
    )

    def target_for(self, metric: Metric, priority: str, channel: str | None) -> int | None:
        best: tuple[int, int] | None = None
        for target in self.targets:
            if target.metric != metric:
                continue
            if target.priority not in (None, priority) or target.channel not in (None, channel):
                continue
            rank = (target.priority is not None) * 2 + (target.channel is not None)
            if best is None or rank > best[0]:
                best = (rank, target.seconds)
        return best[1] if best else None


def sla_trigger_id(conversation_ref: str, clock_key: str, kind: str) -> str:
    """The same however often a crossing is announced: the executor starts its workflows once."""
    digest = hashlib.sha256(f"{conversation_ref}|{clock_key}|{kind}".encode()).hexdigest()
    return f"sla_{digest[:32]}"
