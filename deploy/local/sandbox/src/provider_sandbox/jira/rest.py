"""Jira Cloud's REST API v3 as Atlassian answers it
(https://developer.atlassian.com/cloud/jira/platform/rest/v3/).

- `POST /rest/api/3/issue` `{fields: {project: {key}, summary, issuetype: {name}, description
  (Atlassian Document Format), labels, priority: {name}}}` -> 201 `{id, key, self}`;
  `GET /rest/api/3/issue/{idOrKey}` -> `{id, key, self, fields: {...}}`;
  `POST /rest/api/3/issue/{key}/comment` `{body: ADF}` -> 201 the comment;
  `GET|POST /rest/api/3/issue/{key}/transitions` -> the transitions available / 204;
  `GET /rest/api/3/myself`.
- Auth: basic with an Atlassian account's email and API token on `https://{site}/rest/api/3`,
  or `Authorization: Bearer` an OAuth token on `https://api.atlassian.com/ex/jira/{cloudId}/
  rest/api/3` (`GET /oauth/token/accessible-resources` lists the sites a token reaches); else
  401 "Client must be authenticated to access this resource."
- Errors: `{errorMessages: [...], errors: {field: message}}`: 400 (a missing summary, an
  unknown project or issue type, a transition not available), 404 (no such issue, or no
  permission to see it).
- Rate limit: per site; over it 429 with `Retry-After` (seconds), `X-RateLimit-Limit`,
  `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO 8601) and `RateLimit-Reason`.
For tests: `/sandbox/jira/sites` makes sites (project SUP, an account's email and API token)."""

from __future__ import annotations

import itertools
import json
import math
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from ..limits import RollingWindow
from ..oauth import IssuedTokens

STATUSES = {  # name -> (id, category key, category name)
    "To Do": ("10000", "new", "To Do"),
    "In Progress": ("3", "indeterminate", "In Progress"),
    "Done": ("10001", "done", "Done"),
}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
ISSUE_TYPES = {"Task": "10001", "Bug": "10004", "Story": "10002"}
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
AVATAR = "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png"
UNAUTHENTICATED = "Client must be authenticated to access this resource."


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _problem(status: int, messages: list[str], errors: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errorMessages": messages, "errors": errors or {}}, status_code=status)


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document (one paragraph per line)."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in text.split("\n")
        ],
    }


def _is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1


@dataclass
class Site:
    site: str
    cloud_id: str
    email: str
    api_token: str
    account_id: str
    window: RollingWindow
    projects: dict[str, dict[str, str]] = field(default_factory=dict)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> issue
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counters: dict[str, itertools.count[int]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"https://{self.site}/rest/api/3"

    def summary(self) -> dict[str, Any]:
        return {"site": self.site, "cloud_id": self.cloud_id, "email": self.email,
                "api_token": self.api_token, "limit": self.window.limit,
                "projects": list(self.projects.values()), "issues": list(self.issues.values()),
                "comments": self.comments}  # fmt: skip


class JiraState:
    def __init__(self) -> None:
        self.sites: dict[str, Site] = {}
        self.tokens = IssuedTokens[Site]()
        self._ids = itertools.count(10001)

    def reset(self) -> None:
        self.sites.clear()
        self.tokens.clear()

    def new_site(self, limit: int) -> Site:
        name = "acme-" + secrets.token_hex(3)
        site = Site(
            f"{name}.atlassian.net",
            str(uuid.uuid4()),
            "bot@acme.test",
            "ATATT3x" + secrets.token_urlsafe(24),
            "5b10ac8d82e05b22cc7d4ef5",
            RollingWindow(limit, 60),
        )
        site.projects["SUP"] = {"id": "10000", "key": "SUP", "name": "Support"}
        site.counters["SUP"] = itertools.count(1)
        self.sites[site.site] = site
        return site

    def by_site(self, name: str) -> Site | None:
        return self.sites.get(name)

    def basic(self, request: Request) -> Site | None:
        import base64

        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            email, _, token = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        for site in self.sites.values():
            if email == site.email and secrets.compare_digest(token, site.api_token):
                return site
        return None

    def bearer(self, request: Request, cloud_id: str | None) -> Site | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        site = self.tokens.account(header[7:].strip())
        if site is None or (cloud_id is not None and site.cloud_id != cloud_id):
            return None
        return site


class SiteSpec(BaseModel):
    limit: int = Field(600, ge=1, le=100_000, description="Requests per minute.")


def jira_routers(state: JiraState) -> list[APIRouter]:
    api = APIRouter(tags=["jira"])

    def admitted(request: Request, cloud_id: str | None) -> Site | Response:
        site = state.bearer(request, cloud_id) if cloud_id else state.basic(request)
        if site is None:
            return PlainTextResponse(UNAUTHENTICATED, status_code=401)
        left = site.window.admit()
        if left is None:
            wait = max(1, math.ceil(site.window.wait()))
            limited = _problem(429, ["Rate limit exceeded."])
            limited.headers.update({
                "Retry-After": str(wait),
                "X-RateLimit-Limit": str(site.window.limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": (datetime.now(UTC) + timedelta(seconds=wait)).isoformat(),
                "RateLimit-Reason": "jira-quota-tenant-based",
            })  # fmt: skip
            return limited
        return site

    def view(site: Site, issue: dict[str, Any], wanted: str | None) -> dict[str, Any]:
        fields = issue["fields"]
        if wanted and wanted not in ("*all", "*navigable"):
            names = [n.strip() for n in wanted.split(",") if n.strip()]
            fields = {n: fields.get(n) for n in names}
        return {"expand": "renderedFields,names,schema,operations", "id": issue["id"],
                "self": f"{site.base}/issue/{issue['id']}", "key": issue["key"],
                "fields": fields}  # fmt: skip

    def found(site: Site, id_or_key: str) -> dict[str, Any] | None:
        issue = site.issues.get(id_or_key.upper())
        if issue is None:
            issue = next((i for i in site.issues.values() if i["id"] == id_or_key), None)
        return issue

    def missing() -> Response:
        return _problem(404, ["Issue does not exist or you do not have permission to see it."])

    async def body_of(request: Request) -> dict[str, Any] | None:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def create_issue(request: Request, cloud_id: str | None = None) -> Response:
        site = admitted(request, cloud_id)
        if isinstance(site, Response):
            return site
        body = await body_of(request)
        if body is None or not isinstance(body.get("fields"), dict):
            return _problem(400, ["Unexpected character: the body is not a JSON object"])
        fields = body["fields"]
        errors: dict[str, str] = {}
        project = fields.get("project") or {}
        chosen = site.projects.get(str(project.get("key", "")).upper()) or next(
            (p for p in site.projects.values() if p["id"] == str(project.get("id"))), None
        )
        if chosen is None:
            errors["project"] = "valid project is required"
        if not str(fields.get("summary") or "").strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(str(fields["summary"])) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        kind = str((fields.get("issuetype") or {}).get("name"))
        if kind not in ISSUE_TYPES:
            errors["issuetype"] = "Specify a valid issue type"
        description = fields.get("description")
        if description is not None and not _is_adf(description):
            errors["description"] = "Operation value must be an Atlassian Document."
        priority = (fields.get("priority") or {}).get("name", "Medium")
        if priority not in PRIORITIES:
            errors["priority"] = f"Priority name '{priority}' is not valid"
        labels = fields.get("labels") or []
        if not isinstance(labels, list) or any(" " in str(label) for label in labels):
            errors["labels"] = "The label must not contain spaces."
        if errors or chosen is None:
            return _problem(400, [], errors)
        issue_id = str(next(state._ids))
        key = f"{chosen['key']}-{next(site.counters[chosen['key']])}"
        at = _now()
        status_id, category, category_name = STATUSES["To Do"]
        site.issues[key] = {
            "id": issue_id,
            "key": key,
            "fields": {
                "summary": fields["summary"],
                "issuetype": {"id": ISSUE_TYPES[kind], "name": kind},
                "project": chosen,
                "description": description,
                "labels": labels,
                "priority": {"name": priority},
                "status": {"id": status_id, "name": "To Do",
                           "statusCategory": {"key": category, "name": category_name}},
                "reporter": {"accountId": site.account_id, "emailAddress": site.email},
                "created": at,
                "updated": at,
            },
        }  # fmt: skip
        return JSONResponse(
            {"id": issue_id, "key": key, "self": f"{site.base}/issue/{issue_id}"},
            status_code=201,
        )

    async def read_issue(
        id_or_key: str, request: Request, cloud_id: str | None = None, fields: str | None = None
    ) -> Response:
        site = admitted(request, cloud_id)
        if isinstance(site, Response):
            return site
        issue = found(site, id_or_key)
        return missing() if issue is None else JSONResponse(view(site, issue, fields))

    async def add_comment(
        id_or_key: str, request: Request, cloud_id: str | None = None
    ) -> Response:
        site = admitted(request, cloud_id)
        if isinstance(site, Response):
            return site
        issue = found(site, id_or_key)
        if issue is None:
            return missing()
        body = await body_of(request)
        if body is None or not _is_adf(body.get("body")):
            return _problem(400, [], {"comment": "Comment body can not be empty!"})
        at = _now()
        comment_id = str(next(state._ids))
        author = {"accountId": site.account_id, "emailAddress": site.email}
        comment = {"id": comment_id, "body": body["body"], "created": at, "updated": at,
                   "self": f"{site.base}/issue/{issue['id']}/comment/{comment_id}",
                   "author": author, "jsdPublic": True}  # fmt: skip
        site.comments.setdefault(issue["key"], []).append(comment)
        issue["fields"]["updated"] = at
        return JSONResponse(comment, status_code=201)

    def available(issue: dict[str, Any]) -> list[dict[str, Any]]:
        current = issue["fields"]["status"]["name"]
        return [
            {"id": tid, "name": name, "hasScreen": False, "isGlobal": True, "isInitial": False,
             "isAvailable": True, "isConditional": False,
             "to": {"id": STATUSES[name][0], "name": name,
                    "statusCategory": {"key": STATUSES[name][1], "name": STATUSES[name][2]}}}
            for tid, name in TRANSITIONS.items() if name != current
        ]  # fmt: skip

    async def transitions(
        id_or_key: str, request: Request, cloud_id: str | None = None
    ) -> Response:
        site = admitted(request, cloud_id)
        if isinstance(site, Response):
            return site
        issue = found(site, id_or_key)
        if issue is None:
            return missing()
        return JSONResponse({"expand": "transitions", "transitions": available(issue)})

    async def transition(id_or_key: str, request: Request, cloud_id: str | None = None) -> Response:
        site = admitted(request, cloud_id)
        if isinstance(site, Response):
            return site
        issue = found(site, id_or_key)
        if issue is None:
            return missing()
        body = await body_of(request) or {}
        wanted = str((body.get("transition") or {}).get("id", ""))
        chosen = next((t for t in available(issue) if t["id"] == wanted), None)
        if chosen is None:
            return _problem(400, [f"Transition id '{wanted}' is not valid for this issue."])
        issue["fields"]["status"] = chosen["to"]
        issue["fields"]["updated"] = _now()
        return Response(status_code=204)

    async def myself(request: Request, cloud_id: str | None = None) -> Response:
        site = admitted(request, cloud_id)
        if isinstance(site, Response):
            return site
        return JSONResponse({"accountId": site.account_id, "emailAddress": site.email,
                             "displayName": "Support Bot", "active": True,
                             "self": f"{site.base}/user?accountId={site.account_id}"})  # fmt: skip

    for prefix in ("/rest/api/3", "/ex/jira/{cloud_id}/rest/api/3"):
        api.add_api_route(f"{prefix}/issue", create_issue, methods=["POST"])
        api.add_api_route(f"{prefix}/issue/{{id_or_key}}", read_issue, methods=["GET"])
        api.add_api_route(f"{prefix}/issue/{{id_or_key}}/comment", add_comment, methods=["POST"])
        api.add_api_route(f"{prefix}/issue/{{id_or_key}}/transitions", transitions, methods=["GET"])
        api.add_api_route(f"{prefix}/issue/{{id_or_key}}/transitions", transition, methods=["POST"])
        api.add_api_route(f"{prefix}/myself", myself, methods=["GET"])

    @api.get("/oauth/token/accessible-resources")
    async def accessible_resources(request: Request) -> Response:
        site = state.bearer(request, None)
        if site is None:
            return PlainTextResponse(UNAUTHENTICATED, status_code=401)
        return JSONResponse([{"id": site.cloud_id, "url": f"https://{site.site}",
                              "name": site.site.split(".")[0],
                              "scopes": ["read:jira-work", "write:jira-work"],
                              "avatarUrl": AVATAR}])  # fmt: skip

    sandbox = APIRouter(prefix="/sandbox/jira", tags=["sandbox"])

    @sandbox.post("/sites", status_code=201)
    async def new_site(spec: SiteSpec) -> dict[str, Any]:
        """A site with project SUP and an account's email and API token."""
        return state.new_site(spec.limit).summary()

    @sandbox.get("/sites/{site}")
    async def site_view(site: str) -> dict[str, Any]:
        chosen = state.sites.get(site)
        if chosen is None:
            raise HTTPException(404, f"no site {site}")
        return chosen.summary()

    return [api, sandbox]
