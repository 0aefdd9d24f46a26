"""Posts to the tenants' team chats, decided without I/O: what a Slack or Teams node asks
(``integration.slack`` / ``integration.teams``, action ``postMessage``), its notification
record, the Adaptive Card a Teams post becomes, and the providers' refusals as typed errors.

- Slack: ``{channel, text, blocks?, threadTs?, replyBroadcast?}``; ``channel`` a channel id
  (``C...``), a ``#name`` or a user id (the bot's direct message); without one the tenant's
  default channel. The result is ``{ts, channel}`` (the channel's id, as Slack answers it).
- Teams: ``{text, title?, facts?, webhook?}`` to the tenant's incoming webhook of that name (or
  ``webhookId``/``channel``), else its default one; rendered as one Adaptive Card."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contracts.events import NotificationRequested

from notifier.domain.delivery import Delivery, Route, notification_id, refused
from notifier.domain.errors import (
    AUTHENTICATION_FAILED,
    INVALID_MESSAGE,
    INVALID_RECIPIENT,
    NOT_PERMITTED,
    PROVIDER_REFUSED,
    PROVIDER_UNAVAILABLE,
    RATE_LIMITED,
    DeliveryError,
    failure,
)
from notifier.domain.lifecycle import PENDING

Document = dict[str, Any]
SLACK_POST = "integration.slack"
TEAMS_POST = "integration.teams"
KINDS = frozenset({SLACK_POST, TEAMS_POST})
SLACK = "slack"
TEAMS = "teams"
POST_MESSAGE = "postMessage"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"  # what Teams renders from incoming webhooks


class PostFailed(Exception):
    """A post not taken: refused by the provider, or the provider not reached in time."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(f"{error.type}: {error.message}")
        self.error = error


@dataclass(frozen=True, slots=True)
class SlackPost:
    text: str
    channel: str | None = None  # None: the tenant's default channel
    blocks: tuple[Mapping[str, Any], ...] = ()
    thread_ts: str | None = None
    reply_broadcast: bool = False


@dataclass(frozen=True, slots=True)
class TeamsPost:
    text: str
    title: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    webhook: str | None = None  # the webhook's name; None: the tenant's default


Post = SlackPost | TeamsPost


def post_of(request: NotificationRequested) -> Post | DeliveryError:
    """What a Slack or Teams node asks to post, or why it cannot be posted."""
    rendered = request.request
    action = rendered.get("action") or POST_MESSAGE
    if action != POST_MESSAGE:
        return failure(INVALID_MESSAGE, f"{request.kind}: no action {action!r} (postMessage)")
    params = rendered.get("params")
    params = params if isinstance(params, Mapping) else {}
    text = _text(params.get("text")) or _text(params.get("message")) or ""
    if request.kind == SLACK_POST:
        blocks = _blocks(params.get("blocks"))
        if isinstance(blocks, DeliveryError):
            return blocks
        if not text and not blocks:
            return failure(INVALID_MESSAGE, "a Slack message needs text or blocks")
        return SlackPost(
            text=text,
            channel=_text(params.get("channel")),
            blocks=blocks,
            thread_ts=_text(params.get("threadTs") or params.get("thread_ts")),
            reply_broadcast=params.get("replyBroadcast") in (True, "true"),
        )
    if not text:
        return failure(INVALID_MESSAGE, "a Teams message needs text")
    webhook = params.get("webhook") or params.get("webhookId") or params.get("channel")
    return TeamsPost(
        text=text,
        title=_text(params.get("title")),
        facts=_facts(params.get("facts")),
        webhook=_text(webhook),
    )


def plan_post(request: NotificationRequested, now: datetime) -> tuple[Delivery, Post | None]:
    """The request's record, pending (or failed when the request cannot be posted), and its
    post."""
    post = post_of(request)
    provider = SLACK if request.kind == SLACK_POST else TEAMS
    record: Document = {
        "_id": request.idempotency_key,
        "notification_id": notification_id(request.idempotency_key),
        "tenant_id": request.tenant_id,
        "execution_id": request.execution_id,
        "effect_id": request.effect_id,
        "node_id": request.node_id,
        "kind": request.kind,
        "channel": provider,
        "provider": provider,
        "conversation_id": request.conversation_id,
        "created_at": now,
        "status": PENDING,
    }
    delivery = Delivery(Route.CHATOPS, record, None, None)
    if isinstance(post, DeliveryError):
        return refused(delivery, post, now), None
    record["message"] = post.text
    return delivery, post


def targeted(delivery: Delivery, target: str, process: str) -> Delivery:
    """Ready to post: to ``target`` (a Slack channel as given, a Teams webhook's name), by
    ``process`` (a redelivery finding the record pending from another process posts nothing)."""
    record = {**delivery.record, "target": target, "sending_process": process}
    return replace(delivery, record=record)


def posted(delivery: Delivery, result: Document, now: datetime) -> Delivery:
    record = {**delivery.record, "status": "sent", "sent_at": now, "result": result}
    return replace(delivery, record=record, result=result)


def adaptive_card(post: TeamsPost) -> Document:
    """The message an incoming webhook takes: one Adaptive Card with the title, the text and
    the facts."""
    body: list[Document] = []
    if post.title:
        body.append(
            {
                "type": "TextBlock",
                "text": post.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            }
        )
    body.append({"type": "TextBlock", "text": post.text, "wrap": True})
    if post.facts:
        body.append({"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in post.facts]})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


# Slack's Web API errors (its `error` field) for chat.postMessage and any method.
_SLACK: dict[str, str] = {
    "channel_not_found": INVALID_RECIPIENT,
    "user_not_found": INVALID_RECIPIENT,
    "cannot_dm_bot": INVALID_RECIPIENT,
    "not_in_channel": NOT_PERMITTED,
    "is_archived": NOT_PERMITTED,
    "missing_scope": NOT_PERMITTED,
    "access_denied": NOT_PERMITTED,
    "ekm_access_denied": NOT_PERMITTED,
    "messages_tab_disabled": NOT_PERMITTED,
    "restricted_action": NOT_PERMITTED,
    "restricted_action_read_only_channel": NOT_PERMITTED,
    "restricted_action_thread_only_channel": NOT_PERMITTED,
    "restricted_action_non_threadable_channel": NOT_PERMITTED,
    "team_access_not_granted": NOT_PERMITTED,
    "invalid_auth": AUTHENTICATION_FAILED,
    "not_authed": AUTHENTICATION_FAILED,
    "token_revoked": AUTHENTICATION_FAILED,
    "token_expired": AUTHENTICATION_FAILED,
    "account_inactive": AUTHENTICATION_FAILED,
    "no_text": INVALID_MESSAGE,
    "msg_too_long": INVALID_MESSAGE,
    "invalid_blocks": INVALID_MESSAGE,
    "invalid_blocks_format": INVALID_MESSAGE,
    "too_many_attachments": INVALID_MESSAGE,
    "invalid_arguments": INVALID_MESSAGE,
    "invalid_metadata_format": INVALID_MESSAGE,
    "metadata_too_large": INVALID_MESSAGE,
    "ratelimited": RATE_LIMITED,  # HTTP 429 from any method
    "rate_limited": RATE_LIMITED,  # chat.postMessage: too many messages posted
    "message_limit_exceeded": RATE_LIMITED,
    "internal_error": PROVIDER_UNAVAILABLE,
    "fatal_error": PROVIDER_UNAVAILABLE,
    "service_unavailable": PROVIDER_UNAVAILABLE,
    "request_timeout": PROVIDER_UNAVAILABLE,
}
_RETRYABLE = frozenset({RATE_LIMITED, PROVIDER_UNAVAILABLE})


def slack_refused(status: int, error: str | None, retry_after: float | None) -> DeliveryError:
    """Slack's answer to a call that failed: HTTP ``status`` and its ``error``."""
    kind = _SLACK.get(error or "")
    if kind is None:
        kind = _by_status(status)
    text = f"Slack: {error}" if error else f"Slack answered HTTP {status}"
    retry = retry_after if kind == RATE_LIMITED else None
    return DeliveryError(kind, text, kind in _RETRYABLE, error, status, retry)


def teams_refused(status: int, text: str, retry_after: float | None) -> DeliveryError:
    """A Teams incoming webhook's answer other than 200 ``1``: its HTTP ``status`` and text."""
    said = " ".join(text.split())[:200]
    if status == 200:  # Teams has answered 200 with an error in the body
        kind = RATE_LIMITED if "429" in said else PROVIDER_REFUSED
    elif status in (400, 413):
        kind = INVALID_MESSAGE
    elif status in (404, 410):
        kind = INVALID_RECIPIENT
        said = said or "the webhook does not exist or was removed"
    elif status in (401, 403):
        kind = NOT_PERMITTED
    else:
        kind = _by_status(status)
    retry = retry_after if kind == RATE_LIMITED else None
    message = f"Teams: {said}" if said else f"Teams answered HTTP {status}"
    return DeliveryError(kind, message, kind in _RETRYABLE, None, status, retry)


def retry_after_of(value: str | None) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is not used by Slack or Teams)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _by_status(status: int) -> str:
    if status == 429:
        return RATE_LIMITED
    if status >= 500:
        return PROVIDER_UNAVAILABLE
    if status in (401, 403):
        return AUTHENTICATION_FAILED
    return PROVIDER_REFUSED


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _blocks(value: Any) -> tuple[Mapping[str, Any], ...] | DeliveryError:
    """Block Kit blocks: a list, or its JSON text (an interpolated variable)."""
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return failure(INVALID_MESSAGE, "blocks is not JSON")
    if not isinstance(value, list) or not all(
        isinstance(b, Mapping) and isinstance(b.get("type"), str) for b in value
    ):
        return failure(INVALID_MESSAGE, "blocks must be a list of blocks, each with a type")
    return tuple(value)


def _facts(value: Any) -> tuple[tuple[str, str], ...]:
    """``{"Order": "#1"}`` or ``[{"title"|"name": ..., "value": ...}]``."""
    if isinstance(value, Mapping):
        return tuple((str(k), str(v)) for k, v in value.items())
    facts = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, Mapping):
            title = item.get("title", item.get("name"))
            if title is not None:
                facts.append((str(title), str(item.get("value", ""))))
    return tuple(facts)
