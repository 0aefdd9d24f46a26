"""Zendesk's Support (Ticketing) API as Zendesk answers it
(https://developer.zendesk.com/api-reference/ticketing/introduction/).

- Tickets: `POST /api/v2/tickets` `{ticket: {subject, comment: {body, public}, requester:
  {email, name} | requester_id, priority, status, type, tags, external_id}}` -> 201
  `{ticket, audit}`; `GET /api/v2/tickets/{id}` -> `{ticket}`; `PUT /api/v2/tickets/{id}`
  (fields, a `comment` adds one) -> `{ticket, audit}`; `GET /api/v2/tickets/{id}/comments`.
- Users: `GET /api/v2/users/{id}`, `GET /api/v2/users/search?query=email:x` (or `?email=`),
  `POST /api/v2/users/create_or_update` `{user: {email, name}}` (201 made, 200 found), `GET
  /api/v2/users/me`.
- Auth: basic `{email}/token:{api_token}`, or `Authorization: Bearer` an OAuth token; else 401
  `{"error": "Couldn't authenticate you"}`.
- Errors: 404 `{error: "RecordNotFound", description: "Not found"}`; 422 `{error:
  "RecordInvalid", description: "Record validation errors", details: {field: [{description,
  error}]}}`; 400 `{error: "InvalidEndpoint"|"IdempotentRequestError", ...}`.
- `Idempotency-Key` on a ticket create: the same key and body within two hours answer the first
  ticket (`x-idempotency-lookup: hit`); the key with another body is 400.
- Rate limit: requests per minute per account (Team 200, Professional 400, Enterprise 700):
  `X-Rate-Limit` and `X-Rate-Limit-Remaining` on every answer; over it 429 with `Retry-After`.
For tests: `/sandbox/zendesk` makes accounts (an agent's email and API token each)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ..limits import RollingWindow
from ..oauth import IssuedTokens

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
TYPES = ("problem", "incident", "question", "task")
EDITABLE = ("subject", "priority", "status", "type", "tags", "external_id", "assignee_id")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, error: str, description: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "description": description, **extra}, status_code=status)


def _invalid(field_name: str, description: str) -> JSONResponse:
    details = {field_name: [{"description": description, "error": "InvalidValue"}]}
    return _error(422, "RecordInvalid", "Record validation errors", details=details)


@dataclass
class ZendeskAccount:
    subdomain: str
    email: str
    api_token: str
    window: RollingWindow
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (body, id)
    creates: int = 0  # ticket creates performed (not the idempotent repeats)

    @property
    def base(self) -> str:
        return f"https://{self.subdomain}.zendesk.com/api/v2"

    def summary(self) -> dict[str, Any]:
        return {
            "subdomain": self.subdomain,
            "email": self.email,
            "api_token": self.api_token,
            "limit": self.window.limit,
            "tickets": list(self.tickets.values()),
            "comments": {str(k): v for k, v in self.comments.items()},
            "users": list(self.users.values()),
            "creates": self.creates,
        }


class ZendeskState:
    def __init__(self) -> None:
        self.accounts: dict[str, ZendeskAccount] = {}
        self.tokens = IssuedTokens[ZendeskAccount]()
        self._ids = itertools.count(35436)
        self._users = itertools.count(9873843)

    def reset(self) -> None:
        self.accounts.clear()
        self.tokens.clear()

    def new_account(self, limit: int) -> ZendeskAccount:
        subdomain = "acme" + secrets.token_hex(3)
        account = ZendeskAccount(
            subdomain, "agent@acme.test", secrets.token_urlsafe(30), RollingWindow(limit, 60)
        )
        self.accounts[subdomain] = account
        self.user(account, "agent@acme.test", "Avery Agent", role="agent")
        self.user(account, "ana@example.com", "Ana Lopez")
        return account

    def user(
        self, account: ZendeskAccount, email: str, name: str | None, role: str = "end-user"
    ) -> dict[str, Any]:
        user_id = next(self._users)
        at = _now()
        made = {
            "id": user_id,
            "url": f"{account.base}/users/{user_id}.json",
            "name": name or email.split("@")[0],
            "email": email,
            "role": role,
            "active": True,
            "verified": False,
            "created_at": at,
            "updated_at": at,
            "tags": [],
        }
        account.users[user_id] = made
        return made

    def authenticated(self, request: Request) -> ZendeskAccount | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return self.tokens.account(value.strip())
        if scheme.lower() != "basic":
            return None
        try:
            user, _, secret = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        email, _, token_word = user.partition("/")
        for account in self.accounts.values():
            if (
                token_word == "token"
                and email.lower() == account.email
                and secrets.compare_digest(secret, account.api_token)
            ):
                return account
        return None

    def next_id(self) -> int:
        return next(self._ids)


class AccountSpec(BaseModel):
    limit: int = Field(400, ge=1, le=100_000, description="Requests per minute.")


def zendesk_routers(state: ZendeskState) -> list[APIRouter]:
    api = APIRouter(prefix="/api/v2", tags=["zendesk"])

    def admitted(request: Request) -> tuple[ZendeskAccount, int] | Response:
        account = state.authenticated(request)
        if account is None:
            return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401)
        left = account.window.admit()
        if left is None:
            limited = _error(
                429, "APIRateLimitExceeded", "Number of allowed API requests per minute exceeded"
            )
            limited.headers["Retry-After"] = str(max(1, math.ceil(account.window.wait())))
            return answered(account, 0, limited)
        return account, left

    def answered(account: ZendeskAccount, left: int, answer: Response) -> Response:
        answer.headers["X-Rate-Limit"] = str(account.window.limit)
        answer.headers["X-Rate-Limit-Remaining"] = str(left)
        return answer

    async def body_of(request: Request, key: str) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get(key), dict):
            return None
        return dict(body[key])

    def comment(
        account: ZendeskAccount, ticket_id: int, given: Any, author_id: int
    ) -> dict[str, Any] | JSONResponse:
        if not isinstance(given, dict) or not str(given.get("body") or "").strip():
            return _invalid("description", "Description: cannot be blank")
        body = str(given["body"])
        made = {
            "id": next(state._ids),
            "type": "Comment",
            "author_id": author_id,
            "body": body,
            "html_body": f'<div class="zd-comment"><p>{body}</p></div>',
            "plain_body": body,
            "public": bool(given.get("public", True)),
            "attachments": [],
            "via": {"channel": "api"},
            "created_at": _now(),
        }
        account.comments.setdefault(ticket_id, []).append(made)
        return made

    def apply(ticket: dict[str, Any], fields: dict[str, Any]) -> JSONResponse | None:
        if "status" in fields and fields["status"] not in STATUSES:
            return _invalid("status", f"Status: {fields['status']} is not valid")
        if "priority" in fields and fields["priority"] not in (*PRIORITIES, None):
            return _invalid("priority", f"Priority: {fields['priority']} is not valid")
        if "type" in fields and fields["type"] not in (*TYPES, None):
            return _invalid("type", f"Type: {fields['type']} is not valid")
        if "tags" in fields and not isinstance(fields["tags"], list):
            return _invalid("tags", "Tags: must be a list")
        for name in EDITABLE:
            if name in fields:
                ticket[name] = fields[name]
        if "subject" in fields:
            ticket["raw_subject"] = fields["subject"]
        return None

    def audit(ticket: dict[str, Any], author_id: int, events: list[Any]) -> dict[str, Any]:
        return {
            "id": next(state._ids),
            "ticket_id": ticket["id"],
            "created_at": ticket["updated_at"],
            "author_id": author_id,
            "via": {"channel": "api"},
            "events": events,
        }

    def agent_id(account: ZendeskAccount) -> int:
        return int(next(u["id"] for u in account.users.values() if u["email"] == account.email))

    def requester(account: ZendeskAccount, fields: dict[str, Any]) -> int | JSONResponse:
        given = fields.get("requester")
        if isinstance(given, dict) and given.get("email"):
            email = str(given["email"]).lower()
            for user in account.users.values():
                if user["email"] == email:
                    return int(user["id"])
            return int(state.user(account, email, given.get("name"))["id"])
        if fields.get("requester_id") is not None:
            if fields["requester_id"] not in account.users:
                return _invalid("requester", "Requester: is invalid")
            return int(fields["requester_id"])
        return agent_id(account)

    @api.post("/tickets")
    async def create_ticket(request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        raw = await request.body()
        fields = await body_of(request, "ticket")
        if fields is None:
            return answered(account, left, _error(400, "InvalidJSON", "ticket is required"))
        key = request.headers.get("idempotency-key")
        if key:
            seen = account.idempotent.get(key)
            digest = hashlib.sha256(raw).hexdigest()
            if seen is not None and seen[0] != digest:
                refusal = _error(
                    400,
                    "IdempotentRequestError",
                    "The idempotency key must be unique to a payload",
                )
                return answered(account, left, refusal)
            if seen is not None:
                first_made = account.tickets[seen[1]]
                body = {"ticket": first_made, "audit": audit(first_made, 0, [])}
                answer = JSONResponse(body, 201)
                answer.headers["x-idempotency-lookup"] = "hit"
                return answered(account, left, answer)
        if not str(fields.get("subject") or "").strip() and not fields.get("comment"):
            return answered(account, left, _invalid("subject", "Subject: cannot be blank"))
        who = requester(account, fields)
        if isinstance(who, JSONResponse):
            return answered(account, left, who)
        ticket_id, at = state.next_id(), _now()
        ticket: dict[str, Any] = {
            "id": ticket_id,
            "url": f"{account.base}/tickets/{ticket_id}.json",
            "external_id": None,
            "via": {"channel": "api"},
            "created_at": at,
            "updated_at": at,
            "type": None,
            "subject": None,
            "raw_subject": None,
            "description": None,
            "priority": None,
            "status": "new" if fields.get("assignee_id") is None else "open",
            "requester_id": who,
            "submitter_id": agent_id(account),
            "assignee_id": None,
            "tags": [],
            "custom_fields": [],
        }
        refused = apply(ticket, fields)
        if refused is not None:
            return answered(account, left, refused)
        first = comment(account, ticket_id, fields.get("comment"), agent_id(account))
        if isinstance(first, JSONResponse):
            return answered(account, left, first)
        ticket["description"] = first["body"]
        account.tickets[ticket_id] = ticket
        account.creates += 1
        if key:
            account.idempotent[key] = (hashlib.sha256(raw).hexdigest(), ticket_id)
        events = [{"type": "Comment", **first}, {"type": "Create", "field_name": "status",
                                                  "value": ticket["status"]}]  # fmt: skip
        answer = JSONResponse({"ticket": ticket, "audit": audit(ticket, who, events)}, 201)
        if key:
            answer.headers["x-idempotency-lookup"] = "miss"
        answer.headers["Location"] = ticket["url"]
        return answered(account, left, answer)

    def not_found() -> JSONResponse:
        return _error(404, "RecordNotFound", "Not found")

    @api.get("/tickets/{ticket_id}")
    async def read_ticket(ticket_id: str, request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        ticket = account.tickets.get(int(ticket_id)) if ticket_id.isdigit() else None
        if ticket is None:
            return answered(account, left, not_found())
        return answered(account, left, JSONResponse({"ticket": ticket}))

    @api.put("/tickets/{ticket_id}")
    async def update_ticket(ticket_id: str, request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        ticket = account.tickets.get(int(ticket_id)) if ticket_id.isdigit() else None
        if ticket is None:
            return answered(account, left, not_found())
        fields = await body_of(request, "ticket")
        if fields is None:
            return answered(account, left, _error(400, "InvalidJSON", "ticket is required"))
        if ticket["status"] == "closed":
            return answered(account, left, _invalid("status", "Status: closed prevents update"))
        changed = dict(ticket)
        refused = apply(changed, fields)
        if refused is not None:
            return answered(account, left, refused)
        events: list[dict[str, Any]] = []
        if fields.get("comment") is not None:
            added = comment(account, ticket["id"], fields["comment"], agent_id(account))
            if isinstance(added, JSONResponse):
                return answered(account, left, added)
            events.append({"type": "Comment", **added})
        events += [
            {"type": "Change", "field_name": name, "value": changed[name],
             "previous_value": ticket[name]}
            for name in EDITABLE if name in fields and changed[name] != ticket[name]
        ]  # fmt: skip
        changed["updated_at"] = _now()
        if changed["status"] == "new" and fields.get("comment"):
            changed["status"] = "open"
        ticket.update(changed)
        body = {"ticket": ticket, "audit": audit(ticket, agent_id(account), events)}
        return answered(account, left, JSONResponse(body))

    @api.get("/tickets/{ticket_id}/comments")
    async def ticket_comments(ticket_id: str, request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        if not ticket_id.isdigit() or int(ticket_id) not in account.tickets:
            return answered(account, left, not_found())
        found = account.comments.get(int(ticket_id), [])
        body = {"comments": found, "next_page": None, "previous_page": None, "count": len(found)}
        return answered(account, left, JSONResponse(body))

    @api.get("/users/me")
    async def me(request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        return answered(account, left, JSONResponse({"user": account.users[agent_id(account)]}))

    @api.get("/users/search")
    async def search_users(
        request: Request, query: str | None = None, email: str | None = None
    ) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        wanted = (email or "").lower()
        if not wanted and query and query.lower().startswith("email:"):
            wanted = query[6:].strip().strip('"').lower()
        found = [u for u in account.users.values() if wanted and u["email"] == wanted]
        if not wanted and query:
            found = [u for u in account.users.values()
                     if query.lower() in (u["name"].lower() + " " + u["email"])]  # fmt: skip
        body = {"users": found, "next_page": None, "previous_page": None, "count": len(found)}
        return answered(account, left, JSONResponse(body))

    @api.get("/users/{user_id}")
    async def read_user(user_id: str, request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        user = account.users.get(int(user_id)) if user_id.isdigit() else None
        if user is None:
            return answered(account, left, not_found())
        return answered(account, left, JSONResponse({"user": user}))

    @api.post("/users/create_or_update")
    async def create_or_update_user(request: Request) -> Response:
        gate = admitted(request)
        if isinstance(gate, Response):
            return gate
        account, left = gate
        fields = await body_of(request, "user")
        if fields is None:
            return answered(account, left, _error(400, "InvalidJSON", "user is required"))
        email = str(fields.get("email") or "").strip().lower()
        if "@" not in email:
            return answered(account, left, _invalid("email", "Email: is not properly formatted"))
        for user in account.users.values():
            if user["email"] == email:
                if fields.get("name"):
                    user["name"] = str(fields["name"])
                user["updated_at"] = _now()
                return answered(account, left, JSONResponse({"user": user}))
        made = state.user(account, email, fields.get("name"))
        return answered(account, left, JSONResponse({"user": made}, status_code=201))

    sandbox = APIRouter(prefix="/sandbox/zendesk", tags=["sandbox"])

    @sandbox.post("/accounts", status_code=201)
    async def new_account(spec: AccountSpec) -> dict[str, Any]:
        """An account: its subdomain, an agent's email and API token, and one end user
        (ana@example.com)."""
        return state.new_account(spec.limit).summary()

    @sandbox.get("/accounts/{subdomain}")
    async def account_view(subdomain: str) -> dict[str, Any]:
        found = state.accounts.get(subdomain)
        if found is None:
            raise HTTPException(404, f"no account {subdomain}")
        return found.summary()

    return [api, sandbox]
