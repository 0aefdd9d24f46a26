"""Trigger ingress: `POST /v1/events/{trigger_type}` publishes TriggerReceived on Kafka.

``publish_trigger`` (receipts, span, envelope, key) is every trigger's way to Kafka: the
API's here and in the fast lane (handlers/ingress.py), the providers' webhooks'
(handlers/twilio.py)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, topics
from contracts.events import InboundMessage, TriggerReceived
from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from trigger_gateway.domain.trigger_types import TRIGGER_TYPES, trigger_type_from_slug
from trigger_gateway.handlers.deps import Gateway, GatewayDep, TenantDep
from trigger_gateway.handlers.problems import (
    TENANT_ERRORS,
    WITH_BODY,
    ApiProblem,
    problem_responses,
)
from trigger_gateway.telemetry import attributes, current_trace, tracer

router = APIRouter(prefix="/v1/events", tags=["triggers"])
SOURCE = "/connectflo/trigger-gateway"


class TriggerBody(BaseModel):
    """A trigger from a channel or another system."""

    model_config = ConfigDict(extra="forbid")
    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The sender's id for this event: a retry with the same id is not run twice.",
    )
    conversation_id: str | None = Field(default=None, min_length=1, max_length=200)
    channel: str | None = Field(default=None, description="chat, sms, voice, email, ...")
    payload: dict[str, Any] = Field(description="What the workflow reads as trigger.<field>.")
    customer: dict[str, Any] | None = Field(
        default=None, description="The customer: id, name, email, phone, metadata."
    )


class TriggerAccepted(BaseModel):
    """202: published; 200 (`duplicate`): that `event_id` was published before."""

    trigger_id: str
    trigger_type: str
    duplicate: bool
    executions_url: str
    trigger_url: str = Field(
        description="What the trigger did: the executions it started or resumed, and the "
        "workflows it did not start with the reason"
    )


@router.post(
    "/{trigger_type}",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        status.HTTP_200_OK: {
            "model": TriggerAccepted,
            "description": "A repeated `event_id`: nothing is published again",
        },
        **problem_responses(*TENANT_ERRORS, *WITH_BODY, 404),
    },
)
async def receive_trigger(
    trigger_type: str, body: TriggerBody, tenant: TenantDep, gw: GatewayDep, response: Response
) -> TriggerAccepted:
    """A trigger of `trigger_type` (`incoming_message`, ...): published for the tenant's
    active workflows of that type to run."""
    # Most requests never get here: handlers/ingress.py serves every well-formed one first.
    # This route answers the rest (so its errors are the API's) and is what the API docs show.
    label = trigger_type_from_slug(trigger_type)
    if label is None:
        raise ApiProblem(
            status.HTTP_404_NOT_FOUND,
            f"unknown trigger type {trigger_type!r}; known: "
            + ", ".join(t.lower().replace(" ", "_") for t in TRIGGER_TYPES),
        )
    response.status_code, accepted = await accept_trigger(gw, tenant, label, body)
    return accepted


async def accept_trigger(
    gw: Gateway, tenant: str, label: str, body: TriggerBody
) -> tuple[int, TriggerAccepted]:
    """The API's trigger published (``publish_trigger``): 202, or 200 when its event id was
    published before (nothing is published again)."""
    trigger_id, duplicate = await publish_trigger(
        gw,
        tenant,
        label,
        event_id=body.event_id,
        conversation_id=body.conversation_id,
        channel=body.channel,
        payload=body.payload,
        customer=body.customer,
    )
    status_code = status.HTTP_200_OK if duplicate else status.HTTP_202_ACCEPTED
    return status_code, _accepted(gw, trigger_id, label, duplicate=duplicate)


async def publish_trigger(
    gw: Gateway,
    tenant: str,
    label: str,
    *,
    event_id: str | None,
    conversation_id: str | None,
    channel: str | None,
    payload: dict[str, Any],
    customer: dict[str, Any] | None,
    message: InboundMessage | None = None,
) -> tuple[str, bool]:
    """Publish a TriggerReceived keyed by its conversation (else the tenant), once per
    sender's event id (the API's ``event_id``, a provider's message id): the trigger id, and
    whether that event id was published before (then nothing is published again).

    An event id whose earlier attempt never got Kafka's acknowledgement (answered 503, or
    the process died) is published again under the same trigger id, and answered as not a
    duplicate: the sender never heard of it. Its receipt is kept, not deleted: Kafka may
    still take the first attempt's message after the timeout, and the executor creates
    executions once per (trigger, workflow), so one trigger id means one execution."""
    trigger_id = "trg_" + secrets.token_hex(12)
    if event_id:
        earlier = await gw.receipts.record(tenant, event_id, trigger_id)
        if earlier is not None:
            trigger_id = earlier["trigger_id"]
            if earlier.get("published"):
                return trigger_id, True
    with tracer.start_as_current_span("trigger " + label, attributes=attributes(tenant_id=tenant)):
        event = TriggerReceived(
            trigger_id=trigger_id,
            tenant_id=tenant,
            trigger_type=label,
            conversation_id=conversation_id,
            channel=channel,
            payload=payload,
            customer=customer,
            received_at=datetime.now(UTC),
            message=message,
        )
        envelope = Envelope.wrap(event, source=SOURCE, tenant_id=tenant, **current_trace())
        await gw.broker.publish(
            envelope.body(),
            topics.TRIGGERS,
            (conversation_id or tenant).encode(),
            envelope.headers(),
        )
    if event_id:
        await gw.receipts.mark_published(tenant, event_id)
    return trigger_id, False


def _accepted(gw: Gateway, trigger_id: str, label: str, *, duplicate: bool) -> TriggerAccepted:
    return TriggerAccepted(
        trigger_id=trigger_id,
        trigger_type=label,
        duplicate=duplicate,
        executions_url=f"{gw.settings.public_url}/v1/executions?trigger_id={trigger_id}",
        trigger_url=f"{gw.settings.public_url}/v1/triggers/{trigger_id}",
    )
