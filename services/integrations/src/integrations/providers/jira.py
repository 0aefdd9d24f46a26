"""Jira Cloud, through the REST API v3 (`https://{site}/rest/api/3` with basic auth: an
Atlassian account's email and API token; or, connected by OAuth, `https://api.atlassian.com/
ex/jira/{cloudId}/rest/api/3` with `Authorization: Bearer`), over httpx.

Actions -> results: `createIssue` (projectKey, summary; description: text, made an Atlassian
Document; issueType (Task), labels (a list, or words), priority (High, ...)) -> `{id, key,
self, url}`; `getIssue` (issueKey; fields: a list or comma-separated) -> Jira's issue `{id,
key, fields: {summary, status: {name, ...}, ...}}`; `addComment` (issueKey, body: text) -> the
comment; `transitionIssue` (issueKey, transition: a transition's id or name, or the name of the
status it leads to) -> `{issueKey, transition: {id, name}, status}`; a transition the issue
does not offer is Invalid, naming those it does.

Jira takes no idempotency key: a create whose answer was lost may have been made. Errors: 400
Invalid with Jira's `errorMessages` and `errors` by field, 401 Unauthorized, 403 Forbidden, 404
NotFound, 429 RateLimited with Retry-After, 5xx Unavailable. Limits: Jira Cloud publishes no
fixed rate (its limits are cost-based, a 429 says when to come back): 10 a second by default."""

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
LIMITS = Limits(rate=10, per_seconds=1, burst=20, concurrency=8)
OAUTH_API = "https://api.atlassian.com"
MAX_MESSAGE = 500


def _adf(text: str) -> Document:
    """Plain text as an Atlassian Document (a paragraph per line)."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in text.split("\n")
        ],
    }


def _text(value: Any) -> Document:
    """A document as given (ADF), or text made one."""
    if isinstance(value, dict) and value.get("type") == "doc":
        return value
    return _adf(str(value))


def _key(params: Mapping[str, Any]) -> str:
    key = str(params.get("issueKey") or "").strip()
    if not key or any(c in key for c in "/?#% "):
        raise IntegrationError("Invalid", "Jira: issueKey must be an issue's key or id (SUP-12)")
    return key


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if str(v).strip()]
    return [v for v in str(value or "").replace(",", " ").split() if v]


class JiraClient:
    type = "jira"
    actions: Mapping[str, tuple[str, ...]] = {
        "createIssue": ("projectKey", "summary"),
        "getIssue": ("issueKey",),
        "addComment": ("issueKey", "body"),
        "transitionIssue": ("issueKey", "transition"),
    }
    default_limits = LIMITS

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        if action == "createIssue":
            fields: Document = {
                "project": {"key": str(params["projectKey"])},
                "summary": str(params["summary"]),
                "issuetype": {"name": str(params.get("issueType") or "Task")},
            }
            if params.get("description") not in (None, ""):
                fields["description"] = _text(params["description"])
            if params.get("labels"):
                fields["labels"] = _names(params["labels"])
            if params.get("priority"):
                fields["priority"] = {"name": str(params["priority"])}
            made = await self._send(connection, context, "POST", "issue", {"fields": fields})
            site = str(getattr(connection.config, "site", ""))
            return {**made, "url": f"https://{site}/browse/{made.get('key')}"}
        if action == "getIssue":
            query = {"fields": ",".join(_names(params["fields"]))} if params.get("fields") else None
            return await self._send(
                connection, context, "GET", f"issue/{_key(params)}", query=query
            )
        if action == "addComment":
            body = {"body": _text(params["body"])}
            return await self._send(
                connection, context, "POST", f"issue/{_key(params)}/comment", body
            )
        if action == "transitionIssue":
            return await self._transition(connection, context, _key(params), params["transition"])
        raise IntegrationError("Invalid", f"Jira has no action {action!r}")

    async def check(self, connection: Connection, context: CallContext) -> Document:
        me = await self._send(connection, context, "GET", "myself")
        return {"account_id": me.get("accountId"), "active": me.get("active"), "reachable": True}

    async def _transition(
        self, connection: Connection, context: CallContext, key: str, wanted: Any
    ) -> Document:
        offered = await self._send(connection, context, "GET", f"issue/{key}/transitions")
        name = str(wanted).strip().lower()
        choices = [t for t in offered.get("transitions") or [] if isinstance(t, dict)]
        chosen = next((t for t in choices if str(t.get("id")) == name), None) or next(
            (t for t in choices
             if name in (str(t.get("name", "")).lower(),
                         str((t.get("to") or {}).get("name", "")).lower())),
            None,
        )  # fmt: skip
        if chosen is None:
            names = ", ".join(f"{t.get('name')} ({t.get('id')})" for t in choices) or "none"
            raise IntegrationError(
                "Invalid", f"Jira: {key} offers no transition {wanted!r}; it offers {names}"
            )
        await self._send(
            connection, context, "POST", f"issue/{key}/transitions",
            {"transition": {"id": str(chosen["id"])}},
        )  # fmt: skip
        return {
            "issueKey": key,
            "transition": {"id": str(chosen["id"]), "name": chosen.get("name")},
            "status": (chosen.get("to") or {}).get("name"),
        }

    async def _send(
        self,
        connection: Connection,
        context: CallContext,
        method: str,
        path: str,
        body: Document | None = None,
        *,
        query: dict[str, str] | None = None,
    ) -> Document:
        url = f"{_api(connection)}/{path}"
        return await json_request(
            self._http, "Jira", method, url, context.seconds_for(connection), _error,
            json=body, params=query,
            headers={**_auth(connection), "Accept": "application/json"},
        )  # fmt: skip

    async def aclose(self) -> None:
        return None


def _api(connection: Connection) -> str:
    if "access_token" in connection.credentials:
        cloud_id = getattr(connection.config, "cloud_id", None)
        if not cloud_id:
            raise IntegrationError(
                "NotConnected", "Jira: the connection has no cloud id: connect it by OAuth again"
            )
        return f"{connection.base(OAUTH_API)}/ex/jira/{cloud_id}/rest/api/3"
    site = str(getattr(connection.config, "site", ""))
    return f"{connection.base(f'https://{site}')}/rest/api/3"


def _auth(connection: Connection) -> dict[str, str]:
    if "access_token" in connection.credentials:
        return {"Authorization": f"Bearer {connection.secret('access_token')}"}
    pair = f"{connection.secret('email')}:{connection.secret('api_token')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _error(response: httpx.Response, answer: Any) -> IntegrationError:
    status = response.status_code
    said = ""
    if isinstance(answer, dict):
        parts = [str(m) for m in answer.get("errorMessages") or []]
        errors = answer.get("errors")
        if isinstance(errors, dict):
            parts += [f"{name}: {message}" for name, message in errors.items()]
        said = "; ".join(parts)
    elif response.text:
        said = response.text.strip()
    message = f"Jira: {(said or response.reason_phrase or str(status))[:MAX_MESSAGE]}"
    if status == 429:
        return IntegrationError("RateLimited", message, status, retry_after(response) or 1.0)
    return IntegrationError.from_status(status, message, retry_after(response))
