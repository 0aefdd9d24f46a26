"""HubSpot's CRM v3 objects API as HubSpot answers it (https://developers.hubspot.com/docs/api/crm).

- `GET /crm/v3/objects/{type}?limit=&after=` -> `{results, paging.next.after}`;
  `POST /crm/v3/objects/{contacts|deals|tickets}` `{properties, associations}` -> 201 the object
  `{id, properties, createdAt, updatedAt, archived}`; `GET .../{id}?properties=a,b&idProperty=`
  -> 200 (the default properties unless named); `PATCH .../{id}` `{properties}` -> 200.
- Auth: `Authorization: Bearer <private app or OAuth token>`; none or unknown: 401
  `INVALID_AUTHENTICATION`.
- Errors: `{status: "error", message, correlationId, category, errors?, context?}`: 400
  `VALIDATION_ERROR` (a property that does not exist, a required one missing), 404
  `OBJECT_NOT_FOUND`, 409 `CONFLICT` ("Contact already exists. Existing ID: 51").
- Rate limit: each token's rolling ten seconds (`X-HubSpot-RateLimit-Max`, `-Remaining`,
  `-Interval-Milliseconds` on every answer; 100 for a private app on Free or Starter), over it
  429 `{errorType: "RATE_LIMIT", policyName: "TEN_SECONDLY_ROLLING"}` (HubSpot sends no
  Retry-After).
For tests: `/sandbox/hubspot` makes accounts (a token each) and shows their objects."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ..oauth import IssuedTokens

INTERVAL_MS = 10_000
# object type -> its properties (HubSpot's default ones, the ones a GET answers unnamed)
PROPERTIES: dict[str, dict[str, tuple[str, ...]]] = {
    "contacts": {
        "default": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                    "lastname"),
        "other": ("phone", "company", "lifecyclestage", "jobtitle", "city", "country", "website"),
    },
    "deals": {
        "default": ("amount", "closedate", "createdate", "dealname", "dealstage",
                    "hs_lastmodifieddate", "hs_object_id", "pipeline"),
        "other": ("description", "hubspot_owner_id", "dealtype"),
    },
    "tickets": {
        "default": ("content", "createdate", "hs_lastmodifieddate", "hs_object_id",
                    "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority", "subject"),
        "other": ("hs_ticket_category", "source_type", "hubspot_owner_id"),
    },
}  # fmt: skip
REQUIRED = {"contacts": (), "deals": ("dealname",), "tickets": ("subject", "hs_pipeline_stage")}
DEFAULTS = {"contacts": {}, "deals": {"pipeline": "default"}, "tickets": {"hs_pipeline": "0"}}
ASSOCIATIONS = {("deals", 3), ("tickets", 16), ("contacts", 4), ("contacts", 15)}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


def _error(status: int, message: str, category: str, **extra: Any) -> JSONResponse:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return JSONResponse(body, status_code=status)


@dataclass
class Account:
    portal_id: int
    token: str
    limit: int
    objects: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {t: {} for t in PROPERTIES}
    )
    associations: list[dict[str, Any]] = field(default_factory=list)
    calls: deque[float] = field(default_factory=deque)
    requests: int = 0

    def admit(self) -> int | None:
        """What is left of the rolling ten seconds after this call; None: over the limit."""
        moment = time.monotonic()
        while self.calls and moment - self.calls[0] >= INTERVAL_MS / 1000:
            self.calls.popleft()
        if len(self.calls) >= self.limit:
            return None
        self.calls.append(moment)
        return self.limit - len(self.calls)

    def summary(self) -> dict[str, Any]:
        return {
            "portal_id": self.portal_id,
            "token": self.token,
            "limit": self.limit,
            "objects": {t: list(o.values()) for t, o in self.objects.items()},
            "associations": self.associations,
            "requests": self.requests,
        }


class HubSpotState:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.tokens = IssuedTokens[Account]()  # OAuth access tokens
        self._ids = itertools.count(51)
        self._portals = itertools.count(20_000_001)

    def reset(self) -> None:
        self.accounts.clear()
        self.tokens.clear()

    def by_portal(self, portal_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if str(a.portal_id) == portal_id), None)

    def new_account(self, limit: int) -> Account:
        account = Account(next(self._portals), f"pat-na1-{uuid.uuid4()}", limit)
        self.accounts[account.token] = account
        ana = {"email": "ana@example.com", "firstname": "Ana", "lastname": "Lopez"}
        self.create(account, "contacts", {**ana, "phone": "+14155550101"})
        return account

    def create(self, account: Account, kind: str, properties: dict[str, Any]) -> dict[str, Any]:
        object_id = str(next(self._ids))
        at = _now()
        record = {
            "id": object_id,
            "properties": {
                **DEFAULTS[kind],
                **{k: None if v is None else str(v) for k, v in properties.items()},
                "createdate": at,
                "hs_object_id": object_id,
                "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate": at,
            },
            "createdAt": at,
            "updatedAt": at,
            "archived": False,
        }
        account.objects[kind][object_id] = record
        return record


def _view(kind: str, record: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    wanted = names if names else list(PROPERTIES[kind]["default"])
    return {
        **record,
        "properties": {name: record["properties"].get(name) for name in wanted},
    }


def _invalid_properties(kind: str, properties: dict[str, Any]) -> JSONResponse | None:
    known = set(PROPERTIES[kind]["default"]) | set(PROPERTIES[kind]["other"])
    unknown = [name for name in properties if name not in known]
    if not unknown:
        return None
    details = [
        {"isValid": False, "message": f'Property "{name}" does not exist',
         "error": "PROPERTY_DOESNT_EXIST", "name": name}
        for name in unknown
    ]  # fmt: skip
    return _error(
        400,
        f"Property values were not valid: {json.dumps(details)}",
        "VALIDATION_ERROR",
        errors=[
            {"message": d["message"], "code": "PROPERTY_DOESNT_EXIST",
             "context": {"propertyName": [d["name"]]}}
            for d in details
        ],
    )  # fmt: skip


class AccountSpec(BaseModel):
    limit: int = Field(100, ge=1, le=10_000, description="Calls per rolling ten seconds.")


def hubspot_routers(state: HubSpotState) -> list[APIRouter]:
    api = APIRouter(prefix="/crm/v3/objects", tags=["hubspot"])

    def admitted(request: Request) -> tuple[Account, int] | Response:
        """The token's account and what is left of its ten seconds, or the refusal."""
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        account = state.accounts.get(token) or state.tokens.account(token)
        if account is None:
            return _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        account.requests += 1
        left = account.admit()
        if left is None:
            limited = JSONResponse(
                {
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": str(uuid.uuid4()),
                    "policyName": "TEN_SECONDLY_ROLLING",
                    "groupName": f"publicapi:private-app:{account.portal_id}",
                },
                status_code=429,
            )
            return answered(account, 0, limited)
        return account, left

    def answered(account: Account, left: int, answer: Response) -> Response:
        answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(INTERVAL_MS)
        answer.headers["X-HubSpot-RateLimit-Max"] = str(account.limit)
        answer.headers["X-HubSpot-RateLimit-Remaining"] = str(left)
        return answer

    async def body_of(request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("properties") or {}, dict):
            return None
        return body

    def find(
        account: Account, kind: str, object_id: str, id_property: str | None
    ) -> dict[str, Any] | None:
        if id_property:
            for record in account.objects[kind].values():
                if str(record["properties"].get(id_property) or "").lower() == object_id.lower():
                    return record
            return None
        return account.objects[kind].get(object_id)

    def not_found(object_id: str) -> JSONResponse:
        return _error(
            404,
            "Object not found.  objectId are usually numeric.",
            "OBJECT_NOT_FOUND",
            context={"id": [object_id]},
        )

    def create_object(account: Account, kind: str, body: dict[str, Any]) -> JSONResponse:
        properties = body.get("properties") or {}
        refused = _invalid_properties(kind, properties)
        if refused is not None:
            return refused
        missing = [p for p in REQUIRED[kind] if not properties.get(p)]
        if missing:
            message = f"Property values were not valid: required properties {missing} missing"
            return _error(400, message, "VALIDATION_ERROR")
        email = str(properties.get("email") or "").lower()
        if kind == "contacts" and email:
            for existing in account.objects["contacts"].values():
                if str(existing["properties"].get("email") or "").lower() == email:
                    message = f"Contact already exists. Existing ID: {existing['id']}"
                    return _error(409, message, "CONFLICT")
        links = []
        for association in body.get("associations") or []:
            to = str((association.get("to") or {}).get("id"))
            type_id = ((association.get("types") or [{}])[0]).get("associationTypeId")
            if (kind, type_id) not in ASSOCIATIONS or to not in account.objects["contacts"]:
                message = f"Invalid association: {to} with type {type_id}"
                return _error(400, message, "VALIDATION_ERROR")
            links.append((to, type_id))
        record = state.create(account, kind, properties)
        for to, type_id in links:
            account.associations.append(
                {"from": [kind, record["id"]], "to": ["contacts", to], "typeId": type_id}
            )
        return JSONResponse(_view(kind, record, list(properties) or None), status_code=201)

    @api.post("/{object_type}")
    async def create(object_type: str, request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        body = await body_of(request)
        if object_type not in PROPERTIES:
            answer = _error(
                400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR"
            )
        elif body is None:
            answer = _error(400, "Invalid input JSON on line 1", "VALIDATION_ERROR")
        else:
            answer = create_object(account, object_type, body)
        return answered(account, left, answer)

    @api.get("/{object_type}")
    async def page(
        object_type: str,
        request: Request,
        limit: int = 10,
        after: str | None = None,
        properties: str | None = None,
    ) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        if object_type not in PROPERTIES or not 1 <= limit <= 100:
            answer = _error(400, "limit must be 1 to 100", "VALIDATION_ERROR")
            return answered(account, left, answer)
        records = sorted(account.objects[object_type].values(), key=lambda r: int(r["id"]))
        if after:
            records = [r for r in records if int(r["id"]) > int(after or 0)]
        names = [p for p in (properties or "").split(",") if p] or None
        chosen = records[:limit]
        body: dict[str, Any] = {"results": [_view(object_type, r, names) for r in chosen]}
        if len(records) > limit:
            body["paging"] = {"next": {"after": chosen[-1]["id"]}}
        return answered(account, left, JSONResponse(body))

    @api.get("/{object_type}/{object_id}")
    async def read(
        object_type: str,
        object_id: str,
        request: Request,
        properties: str | None = None,
        idProperty: str | None = None,
    ) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        if object_type not in PROPERTIES:
            answer = _error(
                400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR"
            )
            return answered(account, left, answer)
        record = find(account, object_type, object_id, idProperty)
        if record is None:
            return answered(account, left, not_found(object_id))
        names = [p for p in (properties or "").split(",") if p] or None
        return answered(account, left, JSONResponse(_view(object_type, record, names)))

    @api.patch("/{object_type}/{object_id}")
    async def update(object_type: str, object_id: str, request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        body = await body_of(request)
        if object_type not in PROPERTIES or body is None:
            answer = _error(400, "Invalid input JSON on line 1", "VALIDATION_ERROR")
            return answered(account, left, answer)
        record = find(account, object_type, object_id, request.query_params.get("idProperty"))
        if record is None:
            return answered(account, left, not_found(object_id))
        properties = body.get("properties") or {}
        refused = _invalid_properties(object_type, properties)
        if refused is not None:
            return answered(account, left, refused)
        record["properties"].update(
            {k: None if v is None else str(v) for k, v in properties.items()}
        )
        record["updatedAt"] = _now()
        view = _view(object_type, record, list(properties) or None)
        return answered(account, left, JSONResponse(view))

    sandbox = APIRouter(prefix="/sandbox/hubspot", tags=["sandbox"])

    @sandbox.post("/accounts", status_code=201)
    async def new_account(spec: AccountSpec) -> dict[str, Any]:
        """An account with its token and one contact (ana@example.com)."""
        return state.new_account(spec.limit).summary()

    @sandbox.get("/accounts/{portal_id}")
    async def account(portal_id: int) -> dict[str, Any]:
        for found in state.accounts.values():
            if found.portal_id == portal_id:
                return found.summary()
        raise HTTPException(404, f"no account {portal_id}")

    @sandbox.delete("")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return [api, sandbox]
