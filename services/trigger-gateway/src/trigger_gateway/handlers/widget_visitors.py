"""The chat widget's public routes, `/widget/v1/{widget_key}/...`: a visitor's session, its
signed messages, its stream tokens; and the tenant's backend posting for a visitor.

No API key: the widget key names the tenant publicly, and every message is signed
(domain/widget_signing.py: the scheme). The tenant's secret never reaches a browser: a session
gets its own key, derived from the secret and the session id. A forged, unsigned or stale
message, an expired or foreign session: 403, nothing published. A client message id is
published once (trigger receipts): the same message again, a retry after a lost answer or a
replay of the signed request, is answered 200 `duplicate` and publishes nothing.
CORS (the widget's allowed origins) is handlers/widget_cors.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from contracts.events import InboundMessage
from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trigger_gateway.adapters.widgets import OpenWidget
from trigger_gateway.domain import widget_signing as signing
from trigger_gateway.handlers.deps import Gateway, GatewayDep
from trigger_gateway.handlers.events import publish_trigger
from trigger_gateway.handlers.problems import ApiProblem, problem_responses
from trigger_gateway.handlers.widget_state import WidgetChannelDep, known_widget

router = APIRouter(
    prefix="/widget/v1/{widget_key}",
    tags=["chat widget (public)"],
    responses=problem_responses(403, 404, 422, 503),
)
INCOMING_MESSAGE = "Incoming Message"
VISITOR_ID = r"^vis_[0-9a-f]{24}$"
CLIENT_MESSAGE_ID = r"^[A-Za-z0-9._:-]{1,100}$"

SessionHeader = Annotated[
    str | None,
    Header(
        alias="X-Widget-Session",
        max_length=4000,
        description="The session id `POST .../sessions` answered.",
    ),
]
SignatureHeader = Annotated[
    str | None,
    Header(
        alias="X-Widget-Signature",
        max_length=1000,
        description="`t=<unix seconds>,v1=<hex HMAC-SHA256(key, t + '.' + raw body)>`; the key "
        "is the session key (a browser) or the widget's secret (the tenant's backend).",
    ),
]


class IdentifiedUser(BaseModel):
    """A user the tenant's site has signed in, vouched for by its backend."""

    model_config = ConfigDict(extra="forbid")
    external_id: str = Field(min_length=1, max_length=200, description="The tenant's user id.")
    user_hash: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="hex HMAC-SHA256(widget secret, external_id), computed by the tenant's "
        "backend (Intercom's identity verification).",
    )
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)


class SessionStart(BaseModel):
    """A visitor's session: anonymous (new, or coming back with its visitor id and token), or
    an identified user."""

    model_config = ConfigDict(extra="forbid")
    visitor_id: str | None = Field(None, pattern=VISITOR_ID)
    visitor_token: str | None = Field(None, min_length=1, max_length=100)
    user: IdentifiedUser | None = None
    name: str | None = Field(
        None, max_length=200, description="What an anonymous visitor calls itself (unverified)."
    )
    email: str | None = Field(None, max_length=320, description="Unverified, as `name`.")

    @model_validator(mode="after")
    def _one_kind(self) -> SessionStart:
        if self.user is not None and self.visitor_id is not None:
            raise ValueError("give a user or an anonymous visitor_id, not both")
        if (self.visitor_id is None) != (self.visitor_token is None):
            raise ValueError("visitor_id and visitor_token come together")
        return self


class SessionStarted(BaseModel):
    session_id: str = Field(description="Sent as `X-Widget-Session` with every message.")
    session_key: str = Field(
        description="Signs this session's messages (HMAC-SHA256 with its UTF-8 bytes)."
    )
    expires_at: datetime
    visitor_id: str
    visitor_token: str | None = Field(
        description="An anonymous visitor's proof of its id, to come back to its conversation."
    )
    identity_verified: bool
    conversation_id: str
    stream_token: str
    events_url: str = Field(description="The conversation's replies (text/event-stream).")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_message_id: str = Field(
        pattern=CLIENT_MESSAGE_ID,
        description="Unique per visitor: the same id again is a duplicate, not published.",
    )
    text: str = Field(min_length=1, max_length=4000)
    metadata: dict[str, Any] | None = Field(
        None, description="Anything the page adds (the page's URL, ...): `trigger.metadata`."
    )


class ServerMessage(ChatMessage):
    """The tenant's backend writing for a visitor: an identified user or an anonymous one."""

    external_id: str | None = Field(None, min_length=1, max_length=200)
    visitor_id: str | None = Field(None, pattern=VISITOR_ID)
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)

    @model_validator(mode="after")
    def _one_visitor(self) -> ServerMessage:
        if (self.external_id is None) == (self.visitor_id is None):
            raise ValueError("give exactly one of external_id and visitor_id")
        return self


class MessageAccepted(BaseModel):
    """202: published; 200 (`duplicate`): that client message id was published before."""

    client_message_id: str
    conversation_id: str
    trigger_id: str
    duplicate: bool


class StreamToken(BaseModel):
    stream_token: str
    expires_at: datetime
    events_url: str


def refused(reason: signing.Refused) -> ApiProblem:
    return ApiProblem(status.HTTP_403_FORBIDDEN, str(reason))


def _events_url(gw: Gateway, widget_key: str, conversation_id: str, token: str) -> str:
    base = gw.settings.public_url.rstrip("/")
    return f"{base}/widget/v1/{widget_key}/conversations/{conversation_id}/events?token={token}"


def _customer(user_id: str, name: str | None, email: str | None) -> dict[str, Any]:
    customer = {"id": user_id, "name": name, "email": email}
    return {k: v for k, v in customer.items() if v is not None}


@router.post("/sessions", status_code=status.HTTP_201_CREATED, responses=problem_responses(413))
async def start_session(
    widget_key: str, start: SessionStart, gw: GatewayDep, channel: WidgetChannelDep
) -> SessionStarted:
    """A visitor's session and the key to sign its messages with; its conversation (one per
    visitor) and a stream token for its replies. 403: a `user_hash` or `visitor_token` that
    does not match, or an anonymous visitor where the widget requires identity."""
    found = await known_widget(channel, widget_key)
    secret, now = found.secret.reveal(), time.time()
    if start.user is not None:
        if not signing.identity_verified(secret, start.user.external_id, start.user.user_hash):
            raise refused(signing.Refused("the user_hash does not match the external_id"))
        visitor_id = "user:" + start.user.external_id
        customer = _customer(start.user.external_id, start.user.name, start.user.email)
        token = None
    else:
        if found.widget.require_identity:
            raise refused(signing.Refused("this widget takes identity-verified users only"))
        if start.visitor_id is not None and start.visitor_token is not None:
            if not signing.visitor_verified(
                secret, widget_key, start.visitor_id, start.visitor_token
            ):
                raise refused(signing.Refused("the visitor_token does not match the visitor_id"))
            visitor_id = start.visitor_id
        else:
            visitor_id = signing.new_visitor_id()
        customer = _customer(visitor_id, start.name, start.email)
        token = signing.visitor_token(secret, widget_key, visitor_id)
    session_id, session = signing.issue_session(
        secret,
        tenant_id=found.widget.tenant_id,
        widget_key=widget_key,
        visitor_id=visitor_id,
        customer=customer,
        verified=start.user is not None,
        now=now,
    )
    stream = signing.stream_token(secret, widget_key, session.conversation_id, now)
    return SessionStarted(
        session_id=session_id,
        session_key=signing.session_key(secret, session_id),
        expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        visitor_id=visitor_id,
        visitor_token=token,
        identity_verified=session.verified,
        conversation_id=session.conversation_id,
        stream_token=stream,
        events_url=_events_url(gw, widget_key, session.conversation_id, stream),
    )


def _session(
    found: OpenWidget, widget_key: str, session_id: str | None, header: str | None, body: bytes
) -> signing.Session:
    """The session a browser's request is signed in; 403 unless it is one of this widget's,
    alive, and the signature is its key's and fresh."""
    secret, now = found.secret.reveal(), time.time()
    try:
        if not session_id:
            raise signing.Refused("no session (X-Widget-Session): start one first")
        session = signing.read_session(secret, widget_key, session_id, now)
        signing.check_signature(signing.session_key(secret, session_id), header, body, now)
    except signing.Refused as reason:
        raise refused(reason) from None
    return session


_ACCEPTED = {
    status.HTTP_200_OK: {
        "model": MessageAccepted,
        "description": "That client message id was published before: nothing is published",
    },
    **problem_responses(413),
}


@router.post("/messages", status_code=status.HTTP_202_ACCEPTED, responses=_ACCEPTED)
async def post_message(
    widget_key: str,
    message: ChatMessage,
    request: Request,
    response: Response,
    gw: GatewayDep,
    channel: WidgetChannelDep,
    session_id: SessionHeader = None,
    signature: SignatureHeader = None,
) -> MessageAccepted:
    """A visitor's message, signed with its session key: published as an Incoming Message
    trigger on the chat channel, keyed by the visitor's conversation."""
    found = await known_widget(channel, widget_key)
    session = _session(found, widget_key, session_id, signature, await request.body())
    return await _publish(
        gw, response, found, session.visitor_id, session.customer, session.verified, message
    )


@router.post("/server-messages", status_code=status.HTTP_202_ACCEPTED, responses=_ACCEPTED)
async def post_server_message(
    widget_key: str,
    message: ServerMessage,
    request: Request,
    response: Response,
    gw: GatewayDep,
    channel: WidgetChannelDep,
    signature: SignatureHeader = None,
) -> MessageAccepted:
    """The tenant's backend writing for a visitor (signed with the widget's secret itself):
    an identified user by `external_id` (the conversation its widget sessions have), or an
    anonymous visitor by `visitor_id`."""
    found = await known_widget(channel, widget_key)
    try:
        signing.check_signature(found.secret.reveal(), signature, await request.body(), time.time())
    except signing.Refused as reason:
        raise refused(reason) from None
    if message.external_id is not None:
        visitor_id = "user:" + message.external_id
        customer = _customer(message.external_id, message.name, message.email)
    else:
        visitor_id = str(message.visitor_id)
        customer = _customer(visitor_id, message.name, message.email)
    return await _publish(gw, response, found, visitor_id, customer, True, message)


async def _publish(
    gw: Gateway,
    response: Response,
    found: OpenWidget,
    visitor_id: str,
    customer: dict[str, Any],
    verified: bool,
    message: ChatMessage,
) -> MessageAccepted:
    widget = found.widget
    conversation_id = signing.conversation_of(widget.tenant_id, widget.widget_key, visitor_id)
    payload: dict[str, Any] = {
        "text": message.text,
        "client_message_id": message.client_message_id,
        "identity_verified": verified,
    }
    if message.metadata is not None:
        payload["metadata"] = message.metadata
    trigger_id, duplicate = await publish_trigger(
        gw,
        widget.tenant_id,
        INCOMING_MESSAGE,
        event_id=f"widget:{widget.widget_key}:{visitor_id}:{message.client_message_id}",
        conversation_id=conversation_id,
        channel=signing.CHANNEL,
        payload=payload,
        customer=customer,
        message=InboundMessage(
            contact_address=visitor_id,
            tenant_address=widget.widget_key,
            body=message.text,
            provider="widget",
            provider_message_id=message.client_message_id,
        ),
    )
    response.status_code = status.HTTP_200_OK if duplicate else status.HTTP_202_ACCEPTED
    return MessageAccepted(
        client_message_id=message.client_message_id,
        conversation_id=conversation_id,
        trigger_id=trigger_id,
        duplicate=duplicate,
    )


@router.post("/stream-tokens", status_code=status.HTTP_201_CREATED)
async def new_stream_token(
    widget_key: str,
    request: Request,
    gw: GatewayDep,
    channel: WidgetChannelDep,
    session_id: SessionHeader = None,
    signature: SignatureHeader = None,
) -> StreamToken:
    """A fresh stream token for the session's conversation (a stream token is good for 5
    minutes, to connect; the stream then stays open). Signed as a message, over the raw body
    (which may be empty)."""
    found = await known_widget(channel, widget_key)
    session = _session(found, widget_key, session_id, signature, await request.body())
    now = time.time()
    token = signing.stream_token(found.secret.reveal(), widget_key, session.conversation_id, now)
    return StreamToken(
        stream_token=token,
        expires_at=datetime.fromtimestamp(int(now) + signing.STREAM_TOKEN_SECONDS, UTC),
        events_url=_events_url(gw, widget_key, session.conversation_id, token),
    )
