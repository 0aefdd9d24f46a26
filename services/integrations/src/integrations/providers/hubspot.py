"""HubSpot, through the CRM v3 objects API (`https://api.hubapi.com/crm/v3/objects/...`,
`Authorization: Bearer` a private app's or an OAuth access token), over httpx (HubSpot's Python
client is synchronous).

Actions -> results (HubSpot's objects: `{id, properties, createdAt, updatedAt, archived}`):
`createContact` (properties: an object, or the properties as parameters: email, firstname,
lastname, phone, company, ...); `updateContact` (contactId, properties); `getContact`
(contactId, or an email with `idProperty: email`; properties to read); `createDeal` (dealname;
amount, dealstage (appointmentscheduled), pipeline, closedate; contactId to associate);
`createTicket` (subject; content, hs_pipeline_stage (1: new), hs_ticket_priority; contactId).
HubSpot takes no idempotency key: a create whose answer was lost may have been made (a contact
is unique by email: its second create is Conflict, naming the existing id).

Errors by HubSpot's `category`: INVALID_AUTHENTICATION / EXPIRED_AUTHENTICATION Unauthorized,
MISSING_SCOPES Forbidden, OBJECT_NOT_FOUND NotFound, CONFLICT Conflict, VALIDATION_ERROR
Invalid; 429 RateLimited (HubSpot sends no Retry-After: the wait is a second of its rolling ten),
5xx Unavailable. Limits: a private app on Free or Starter has 100 calls per ten seconds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from contracts.connections import Limits

from integrations.adapters.http_provider import json_request, retry_after
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection

Document = dict[str, Any]
API = "https://api.hubapi.com"
# "100 requests every 10 seconds" for private apps on Free and Starter
# (https://developers.hubspot.com/docs/api/usage-details)
LIMITS = Limits(rate=100, per_seconds=10, burst=10, concurrency=8)
MAX_MESSAGE = 500
RESERVED = {"contactId", "properties", "idProperty", "associate"}
ASSOCIATION = {"deals": 3, "tickets": 16}  # HUBSPOT_DEFINED: deal to contact, ticket to contact
_BY_CATEGORY = {
    "INVALID_AUTHENTICATION": "Unauthorized",
    "EXPIRED_AUTHENTICATION": "Unauthorized",
    "MISSING_SCOPES": "Forbidden",
    "OBJECT_NOT_FOUND": "NotFound",
    "CONFLICT": "Conflict",
    "VALIDATION_ERROR": "Invalid",
}


def _properties(params: Mapping[str, Any], **defaults: str) -> Document:
    """The object's properties: `properties` and every other parameter, HubSpot's names."""
    given = params.get("properties") or {}
    if not isinstance(given, dict):
        raise IntegrationError("Invalid", "HubSpot: properties must be an object")
    flat = {k: v for k, v in params.items() if k not in RESERVED and v not in (None, "")}
    merged = {**defaults, **flat, **given}
    return {k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
            for k, v in merged.items()}  # fmt: skip


def _id(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if not text or "/" in text or "?" in text:
        raise IntegrationError("Invalid", f"HubSpot: {name} must be an object's id")
    return text


class HubSpotClient:
    type = "hubspot"
    actions: Mapping[str, tuple[str, ...]] = {
        "createContact": (),
        "updateContact": ("contactId",),
        "getContact": ("contactId",),
        "createDeal": ("dealname",),
        "createTicket": ("subject",),
    }
    default_limits = LIMITS

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        if action == "createContact":
            properties = _properties(params)
            if not {"email", "firstname", "lastname"} & set(properties):
                raise IntegrationError(
                    "Invalid", "HubSpot: a contact needs an email, firstname or lastname"
                )
            return await self._send(
                connection, context, "POST", "contacts", {"properties": properties}
            )
        if action == "updateContact":
            body = {"properties": _properties(params)}
            path = f"contacts/{_id(params, 'contactId')}"
            return await self._send(connection, context, "PATCH", path, body, self._by(params))
        if action == "getContact":
            query = self._by(params)
            wanted = params.get("properties")
            if isinstance(wanted, list):
                query["properties"] = ",".join(str(p) for p in wanted)
            elif isinstance(wanted, str) and wanted.strip():
                query["properties"] = wanted.strip()
            path = f"contacts/{_id(params, 'contactId')}"
            return await self._send(connection, context, "GET", path, None, query)
        if action == "createDeal":
            properties = _properties(params, dealstage="appointmentscheduled", pipeline="default")
            return await self._create_associated(connection, context, "deals", properties, params)
        if action == "createTicket":
            properties = _properties(params, hs_pipeline="0", hs_pipeline_stage="1")
            return await self._create_associated(connection, context, "tickets", properties, params)
        raise IntegrationError("Invalid", f"HubSpot has no action {action!r}")

    async def check(self, connection: Connection, context: CallContext) -> Document:
        # a cheap read every token with CRM scope may make: one contact of the account
        answer = await self._send(connection, context, "GET", "contacts", None, {"limit": "1"})
        return {"results": len(answer.get("results") or []), "reachable": True}

    @staticmethod
    def _by(params: Mapping[str, Any]) -> dict[str, str]:
        by = params.get("idProperty")
        return {"idProperty": str(by)} if isinstance(by, str) and by.strip() else {}

    async def _create_associated(
        self,
        connection: Connection,
        context: CallContext,
        kind: str,
        properties: Document,
        params: Mapping[str, Any],
    ) -> Document:
        body: Document = {"properties": properties}
        if params.get("contactId") not in (None, ""):
            type_id = ASSOCIATION[kind]
            body["associations"] = [
                {
                    "to": {"id": _id(params, "contactId")},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                    ],
                }
            ]
        return await self._send(connection, context, "POST", kind, body)

    async def _send(
        self,
        connection: Connection,
        context: CallContext,
        method: str,
        path: str,
        body: Document | None,
        query: dict[str, str] | None = None,
    ) -> Document:
        url = f"{connection.base(API)}/crm/v3/objects/{path}"
        headers = {"Authorization": f"Bearer {connection.secret('access_token')}"}
        return await json_request(
            self._http, "HubSpot", method, url, context.seconds_for(connection), _error,
            json=body, params=query, headers=headers,
        )  # fmt: skip

    async def aclose(self) -> None:
        return None


def _error(response: httpx.Response, answer: Any) -> IntegrationError:
    status = response.status_code
    said = answer.get("message") if isinstance(answer, dict) else None
    message = f"HubSpot: {str(said or response.reason_phrase or status)[:MAX_MESSAGE]}"
    if status == 429:
        return IntegrationError("RateLimited", message, status, retry_after(response) or 1.0)
    category = str(answer.get("category") or "") if isinstance(answer, dict) else ""
    kind = _BY_CATEGORY.get(category)
    if kind is None:
        return IntegrationError.from_status(status, message, retry_after(response))
    return IntegrationError(kind, message + (f" ({category})" if category else ""), status)
