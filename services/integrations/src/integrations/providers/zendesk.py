"""Zendesk, through the Support API (`https://{subdomain}.zendesk.com/api/v2`, basic auth with
an agent's `{email}/token` and API token, or `Authorization: Bearer` an OAuth token), over httpx
(Zendesk has no kept async Python client).

Actions -> results (Zendesk's objects): `createTicket` (subject; body: the first comment (the
subject when none), public; priority (urgent, high, normal, low), status, type, tags,
requesterEmail and requesterName (the end user, made when new), externalId) -> the ticket, made
once per idempotency key (Zendesk's Idempotency-Key); `getTicket` (ticketId) -> the ticket;
`updateTicket` (ticketId; status, priority, type, subject, tags, assigneeId, body: a comment
with it) -> the ticket; `addComment` (ticketId, body; public, default true) -> the ticket;
`getUser` (userId, or email) -> the user (NotFound when no user has that email).

Errors: 401 Unauthorized, 403 Forbidden, 404 (RecordNotFound) NotFound, 422 (RecordInvalid,
with the fields Zendesk named) and 400 Invalid, 409 Conflict, 429 RateLimited with Retry-After,
5xx Unavailable. Limits: requests per minute per account by plan (Team 200, Professional 400,
Enterprise 700): 200 unless the connection says more."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx
from contracts.connections import Limits

from integrations.adapters.http_provider import json_request, retry_after
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection

Document = dict[str, Any]
# https://developer.zendesk.com/api-reference/introduction/rate-limits/ (Support API, Team)
LIMITS = Limits(rate=200, per_seconds=60, burst=20, concurrency=8)
MAX_MESSAGE = 500
TICKET_FIELDS = {"status": "status", "priority": "priority", "type": "type",
                 "subject": "subject", "tags": "tags", "assigneeId": "assignee_id",
                 "externalId": "external_id"}  # fmt: skip


def _id(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not text.isdigit():
        raise IntegrationError("Invalid", f"Zendesk: {name} must be a number")
    return int(text)


def _fields(params: Mapping[str, Any]) -> Document:
    fields = {api: params[ours] for ours, api in TICKET_FIELDS.items()
              if params.get(ours) not in (None, "")}  # fmt: skip
    if "tags" in fields and isinstance(fields["tags"], str):
        fields["tags"] = [t for t in fields["tags"].replace(",", " ").split() if t]
    return fields


def _comment(params: Mapping[str, Any], default: str = "") -> Document | None:
    body = str(params.get("body") or params.get("comment") or default)
    if not body.strip():
        return None
    public = params.get("public", True)
    return {"body": body, "public": public not in (False, "false", 0)}


class ZendeskClient:
    type = "zendesk"
    actions: Mapping[str, tuple[str, ...]] = {
        "createTicket": ("subject",),
        "getTicket": ("ticketId",),
        "updateTicket": ("ticketId",),
        "addComment": ("ticketId", "body"),
        "getUser": (),
    }
    default_limits = LIMITS

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        if action == "createTicket":
            ticket = _fields(params)
            ticket["comment"] = _comment(params, str(params.get("subject") or ""))
            if params.get("requesterEmail"):
                requester = {"email": str(params["requesterEmail"])}
                if params.get("requesterName"):
                    requester["name"] = str(params["requesterName"])
                ticket["requester"] = requester
            headers = {"Idempotency-Key": context.idempotency_key}
            answer = await self._send(
                connection, context, "POST", "tickets", {"ticket": ticket}, headers=headers
            )
            return dict(answer["ticket"])
        if action in ("updateTicket", "addComment"):
            ticket = _fields(params) if action == "updateTicket" else {}
            comment = _comment(params)
            if comment is not None:
                ticket["comment"] = comment
            if not ticket:
                raise IntegrationError("Invalid", "Zendesk: nothing to change on the ticket")
            path = f"tickets/{_id(params, 'ticketId')}"
            answer = await self._send(connection, context, "PUT", path, {"ticket": ticket})
            return dict(answer["ticket"])
        if action == "getTicket":
            path = f"tickets/{_id(params, 'ticketId')}"
            return dict((await self._send(connection, context, "GET", path))["ticket"])
        if action == "getUser":
            return await self._user(connection, context, params)
        raise IntegrationError("Invalid", f"Zendesk has no action {action!r}")

    async def check(self, connection: Connection, context: CallContext) -> Document:
        me = (await self._send(connection, context, "GET", "users/me"))["user"]
        return {"user_id": me.get("id"), "role": me.get("role"), "reachable": True}

    async def _user(
        self, connection: Connection, context: CallContext, params: Mapping[str, Any]
    ) -> Document:
        if params.get("userId") not in (None, ""):
            path = f"users/{_id(params, 'userId')}"
            return dict((await self._send(connection, context, "GET", path))["user"])
        email = str(params.get("email") or "").strip()
        if "@" not in email:
            raise IntegrationError("Invalid", "Zendesk: getUser needs a userId or an email")
        found = await self._send(
            connection, context, "GET", "users/search", query={"query": f"email:{email}"}
        )
        users = found.get("users") or []
        if not users:
            raise IntegrationError("NotFound", "Zendesk: no user has that email", 404)
        return dict(users[0])

    async def _send(
        self,
        connection: Connection,
        context: CallContext,
        method: str,
        path: str,
        body: Document | None = None,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Document:
        subdomain = str(getattr(connection.config, "subdomain", ""))
        url = f"{connection.base(f'https://{subdomain}.zendesk.com')}/api/v2/{path}"
        return await json_request(
            self._http,
            "Zendesk",
            method,
            url,
            context.seconds_for(connection),
            _error,
            json=body,
            params=query,
            headers={**_auth(connection), **(headers or {})},
        )

    async def aclose(self) -> None:
        return None


def _auth(connection: Connection) -> dict[str, str]:
    if "access_token" in connection.credentials:
        return {"Authorization": f"Bearer {connection.secret('access_token')}"}
    pair = f"{connection.secret('email')}/token:{connection.secret('api_token')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _error(response: httpx.Response, answer: Any) -> IntegrationError:
    status = response.status_code
    said = ""
    if isinstance(answer, dict):
        error = answer.get("error")
        said = str(answer.get("description") or (error if isinstance(error, str) else "") or "")
        if isinstance(error, dict):  # OAuth's {"error": {"title", "message"}}
            said = str(error.get("message") or error.get("title") or "")
        details = answer.get("details")
        if isinstance(details, dict):
            named = "; ".join(
                str(problem.get("description"))
                for problems in details.values() if isinstance(problems, list)
                for problem in problems if isinstance(problem, dict)
            )  # fmt: skip
            said = f"{said}: {named}" if named else said
    message = f"Zendesk: {(said or response.reason_phrase or str(status))[:MAX_MESSAGE]}"
    if status == 429:
        return IntegrationError("RateLimited", message, status, retry_after(response) or 1.0)
    if status == 422:
        return IntegrationError("Invalid", message, status)
    return IntegrationError.from_status(status, message, retry_after(response))
