"""Salesforce, through the REST API (`{instance_url}/services/data/{api_version}`,
`Authorization: Bearer` the OAuth access token), over httpx (simple-salesforce is synchronous).

Actions -> results: `createLead` (Salesforce's field names as parameters or in `fields`:
LastName and Company required) -> `{id, success}`; `updateLead` (leadId; fields) -> `{id,
updated}`; `getContact` (contactId; fields to read) -> the record; `createCase` (Subject,
Description, Priority, Origin, ContactId, SuppliedEmail, ...) -> `{id, success}`; `query`
(soql; bindings) -> `{totalSize, done, records}`, following `nextRecordsUrl` up to maxRecords
(2000). Values go into SOQL only as `:name` bindings, each made a SOQL literal here (text
quoted with Salesforce's escapes, numbers, booleans, null; a list for IN): the node refuses
`{{...}}` in `soql`, so a customer's words can never become SOQL.

Errors from Salesforce's `[{errorCode, message, fields}]`: INVALID_SESSION_ID Unauthorized,
NOT_FOUND NotFound, INSUFFICIENT_ACCESS* Forbidden, REQUEST_LIMIT_EXCEEDED (the org's daily API
limit) RateLimited, DUPLICATE_VALUE Conflict, the rest of 400 Invalid. Salesforce takes no
idempotency key: a create whose answer was lost may have been made. Limits: a daily API
allowance per org (not per second) and 25 long-running requests at once: 20 a second, 10 at
once by default."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import httpx
from contracts.connections import Limits

from integrations.adapters.http_provider import json_request, retry_after
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection

Document = dict[str, Any]
LIMITS = Limits(rate=20, per_seconds=1, burst=20, concurrency=10)
MAX_MESSAGE = 500
MAX_RECORDS = 2000
RESERVED = {"fields", "leadId", "contactId"}
_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_BINDING = re.compile(r"'(?:[^'\\]|\\.)*'|:([A-Za-z_][A-Za-z0-9_]*)")
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
            "\f": "\\f", '"': '\\"'}  # fmt: skip
_BY_CODE = {
    "INVALID_SESSION_ID": "Unauthorized",
    "NOT_FOUND": "NotFound",
    "REQUEST_LIMIT_EXCEEDED": "RateLimited",
    "DUPLICATE_VALUE": "Conflict",
    "DUPLICATES_DETECTED": "Conflict",
}


def soql_literal(value: Any) -> str:
    """A value as a SOQL literal (Salesforce's quoted-string escapes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise IntegrationError("Invalid", "Salesforce: a binding is not a finite number")
        return repr(value)
    if isinstance(value, list | tuple):
        if not value:
            raise IntegrationError("Invalid", "Salesforce: an IN list binding is empty")
        return "(" + ", ".join(soql_literal(v) for v in value) + ")"
    if isinstance(value, str):
        return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"
    raise IntegrationError("Invalid", f"Salesforce: a {type(value).__name__} cannot be bound")


def bind(soql: str, bindings: Mapping[str, Any]) -> str:
    """``soql`` with each `:name` outside string literals replaced by its binding's literal."""

    def replaced(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)  # a string literal: left as written
        if name not in bindings:
            raise IntegrationError("Invalid", f"Salesforce: no binding for :{name}")
        return soql_literal(bindings[name])

    return _BINDING.sub(replaced, soql)


def _fields(params: Mapping[str, Any]) -> Document:
    given = params.get("fields") or {}
    if not isinstance(given, dict):
        raise IntegrationError("Invalid", "Salesforce: fields must be an object")
    flat = {k: v for k, v in params.items() if k not in RESERVED and v is not None}
    return {**flat, **given}


def _record_id(params: Mapping[str, Any], name: str) -> str:
    value = str(params.get(name) or "").strip()
    if not _ID.fullmatch(value):
        raise IntegrationError("Invalid", f"Salesforce: {name} must be a 15 or 18 character id")
    return value


class SalesforceClient:
    type = "salesforce"
    actions: Mapping[str, tuple[str, ...]] = {
        "createLead": (),
        "updateLead": ("leadId",),
        "getContact": ("contactId",),
        "createCase": (),
        "query": ("soql",),
    }
    default_limits = LIMITS

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        if action in ("createLead", "createCase"):
            kind = "Lead" if action == "createLead" else "Case"
            return await self._send(
                connection, context, "POST", f"sobjects/{kind}", _fields(params)
            )
        if action == "updateLead":
            lead = _record_id(params, "leadId")
            changes = _fields(params)
            if not changes:
                raise IntegrationError("Invalid", "Salesforce: nothing to change on the lead")
            await self._send(connection, context, "PATCH", f"sobjects/Lead/{lead}", changes)
            return {"id": lead, "updated": True}
        if action == "getContact":
            wanted = params.get("fields")
            names = wanted if isinstance(wanted, list) else str(wanted or "").split(",")
            query = {"fields": ",".join(str(n).strip() for n in names if str(n).strip())}
            path = f"sobjects/Contact/{_record_id(params, 'contactId')}"
            return await self._send(
                connection, context, "GET", path, query=query if query["fields"] else None
            )
        if action == "query":
            return await self._query(connection, context, params)
        raise IntegrationError("Invalid", f"Salesforce has no action {action!r}")

    async def check(self, connection: Connection, context: CallContext) -> Document:
        limits = await self._send(connection, context, "GET", "limits")
        daily = limits.get("DailyApiRequests") or {}
        return {"daily_api_requests": daily, "reachable": True}

    async def _query(
        self, connection: Connection, context: CallContext, params: Mapping[str, Any]
    ) -> Document:
        bindings = params.get("bindings") or {}
        if not isinstance(bindings, dict):
            raise IntegrationError("Invalid", "Salesforce: bindings must be an object")
        most = int(params.get("maxRecords") or MAX_RECORDS)
        soql = bind(str(params["soql"]), bindings)
        page = await self._send(connection, context, "GET", "query", query={"q": soql})
        records = list(page.get("records") or [])
        while not page.get("done", True) and page.get("nextRecordsUrl") and len(records) < most:
            cursor = str(page["nextRecordsUrl"]).rsplit("/query/", 1)[-1]
            page = await self._send(connection, context, "GET", f"query/{cursor}")
            records += page.get("records") or []
        return {
            "totalSize": page.get("totalSize", len(records)),
            "done": len(records) >= int(page.get("totalSize", 0) or 0),
            "records": records[:most],
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
        config = connection.config
        version = str(getattr(config, "api_version", "v62.0"))
        root = connection.base(str(getattr(config, "instance_url", "")))
        return await json_request(
            self._http, "Salesforce", method, f"{root}/services/data/{version}/{path}",
            context.seconds_for(connection), _error, json=body, params=query,
            headers={"Authorization": f"Bearer {connection.secret('access_token')}"},
        )  # fmt: skip

    async def aclose(self) -> None:
        return None


def _error(response: httpx.Response, answer: Any) -> IntegrationError:
    status = response.status_code
    first = answer[0] if isinstance(answer, list) and answer and isinstance(answer[0], dict) else {}
    code = str(first.get("errorCode") or "")
    said = str(first.get("message") or response.reason_phrase or status)
    fields = first.get("fields")
    if isinstance(fields, list) and fields:
        said += f" (fields: {', '.join(str(f) for f in fields)})"
    message = f"Salesforce: {said[:MAX_MESSAGE]}" + (f" ({code})" if code else "")
    kind = _BY_CODE.get(code)
    if kind is None and code.startswith("INSUFFICIENT_ACCESS"):
        kind = "Forbidden"
    if kind == "RateLimited":  # the org's daily allowance: not within this call's deadline
        return IntegrationError(kind, message, status, retry_after(response) or 3600.0)
    if kind is not None:
        return IntegrationError(kind, message, status)
    return IntegrationError.from_status(status, message, retry_after(response))
