"""Salesforce's REST API as Salesforce answers it
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/).

- `GET /services/data/vXX.X/query?q=SOQL` -> `{totalSize, done, records, nextRecordsUrl?}`
  (records with `attributes: {type, url}`; `Sforce-Query-Options: batchSize=N` pages them,
  200 to 2000; `GET .../query/{cursor}` reads on); the SOQL subset in `soql.py`.
- `POST .../sobjects/{Type}` -> 201 `{id, success, errors}`; `GET .../sobjects/{Type}/{id}
  [?fields=a,b]` -> the record; `PATCH .../sobjects/{Type}/{id}` -> 204. Lead, Contact, Case
  and Account, with their standard required fields and defaults; 18-character ids with
  Salesforce's case-safe suffix. `GET .../limits` -> DailyApiRequests.
- Auth: `Authorization: Bearer` an access token (the OAuth flow's, or the org's session);
  else 401 `[{message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID"}]`.
- Errors: a list of `{message, errorCode, fields?}`: NOT_FOUND (404), MALFORMED_QUERY,
  INVALID_TYPE, INVALID_FIELD, REQUIRED_FIELD_MISSING, MALFORMED_ID, JSON_PARSER_ERROR (400).
- API limit: requests per rolling 24 hours per org (`Sforce-Limit-Info: api-usage=n/max` on
  every answer); over it 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded."
For tests: `/sandbox/salesforce/orgs` makes orgs (an account and a contact, a session token)."""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ..limits import RollingWindow
from ..oauth import IssuedTokens
from .soql import SoqlError, parse, run

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
COMMON = ("Id", "CreatedDate", "LastModifiedDate", "IsDeleted", "OwnerId")
OBJECTS: dict[str, dict[str, Any]] = {
    "Lead": {"prefix": "00Q", "required": ("LastName", "Company"),
             "defaults": {"Status": "Open - Not Contacted"},
             "fields": ("FirstName", "LastName", "Name", "Company", "Email", "Phone", "Status",
                        "LeadSource", "Description", "Title")},
    "Contact": {"prefix": "003", "required": ("LastName",), "defaults": {},
                "fields": ("FirstName", "LastName", "Name", "Email", "Phone", "AccountId",
                           "Description", "Title", "MailingCity")},
    "Case": {"prefix": "500", "required": (), "defaults": {"Status": "New",
                                                          "Priority": "Medium", "Origin": "Web"},
             "fields": ("CaseNumber", "Subject", "Description", "Status", "Priority", "Origin",
                        "ContactId", "AccountId", "SuppliedEmail", "SuppliedName", "Type")},
    "Account": {"prefix": "001", "required": ("Name",), "defaults": {},
                "fields": ("Name", "Phone", "Website", "Industry", "Description")},
}  # fmt: skip
READ_ONLY = {"Id", "Name", "CaseNumber", "CreatedDate", "LastModifiedDate", "IsDeleted"}
BATCH = (200, 2000)


def case_safe(id15: str) -> str:
    """Salesforce's 18-character id: three letters saying which of the 15 are upper case."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += SUFFIX[bits]
    return id15 + suffix


def _errors(status: int, code: str, message: str, fields: list[str] | None = None) -> Response:
    error: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        error["fields"] = fields
    return JSONResponse([error], status_code=status)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class Org:
    org_id: str
    session: str
    window: RollingWindow
    records: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in OBJECTS}
    )
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    cases: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    cursors: dict[str, tuple[list[dict[str, Any]], int]] = field(default_factory=dict)
    calls: int = 0

    def new_id(self, sobject: str) -> str:
        n, digits = next(self.counter), ""
        for _ in range(6):
            n, rest = divmod(n, 62)
            digits = BASE62[rest] + digits
        return case_safe(OBJECTS[sobject]["prefix"] + self.org_id[3:9] + digits)

    def summary(self) -> dict[str, Any]:
        return {"org_id": self.org_id, "access_token": self.session,
                "limit": self.window.limit, "calls": self.calls,
                "records": {k: list(v.values()) for k, v in self.records.items()}}  # fmt: skip


class SalesforceState:
    def __init__(self) -> None:
        self.orgs: dict[str, Org] = {}
        self.tokens = IssuedTokens[Org]()

    def reset(self) -> None:
        self.orgs.clear()
        self.tokens.clear()

    def new_org(self, limit: int) -> Org:
        org_id = case_safe("00D" + "".join(secrets.choice(BASE62) for _ in range(12)))
        org = Org(org_id, f"{org_id[:15]}!{secrets.token_urlsafe(40)}", RollingWindow(limit, 86400))
        self.orgs[org_id] = org
        acme = self.make(org, "Account", {"Name": "Acme Corp", "Industry": "Retail"})
        self.make(org, "Contact", {"FirstName": "Ana", "LastName": "Lopez",
                                   "Email": "ana@example.com", "Phone": "+14155550101",
                                   "AccountId": acme["Id"]})  # fmt: skip
        return org

    def make(self, org: Org, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
        spec = OBJECTS[sobject]
        at = _now()
        record: dict[str, Any] = {name: None for name in spec["fields"]}
        record |= {"Id": org.new_id(sobject), "CreatedDate": at, "LastModifiedDate": at,
                   "IsDeleted": False, "OwnerId": "005" + org.org_id[3:15]}  # fmt: skip
        record |= spec["defaults"] | values
        if sobject == "Case":
            record["CaseNumber"] = f"{next(org.cases):08d}"
        if "Name" in spec["fields"] and sobject != "Account":
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record["LastName"]) if p)
        org.records[sobject][record["Id"]] = record
        return record

    def authenticated(self, request: Request) -> Org | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        token = header[7:].strip()
        org = next(
            (o for o in self.orgs.values() if secrets.compare_digest(o.session, token)), None
        )
        return org or self.tokens.account(token)


def _canonical(sobject: str) -> str | None:
    return next((name for name in OBJECTS if name.lower() == sobject.lower()), None)


def _fields_of(sobject: str) -> dict[str, str] | None:
    canonical = _canonical(sobject)
    if canonical is None:
        return None
    names = {name.lower(): name for name in (*COMMON, *OBJECTS[canonical]["fields"])}
    return names | {"__name__": canonical}


def _view(
    version: str, sobject: str, record: dict[str, Any], names: list[str] | None
) -> dict[str, Any]:
    shown = {name: record.get(name) for name in names} if names else dict(record)
    attributes = {
        "type": sobject,
        "url": f"/services/data/{version}/sobjects/{sobject}/{record['Id']}",
    }
    return {"attributes": attributes, **shown}


def salesforce_grant(org: Org) -> dict[str, Any]:
    """What Salesforce's token endpoint says besides the tokens (it sends no expires_in)."""
    user = "005" + org.org_id[3:15]
    return {
        "instance_url": f"https://{org.org_id[:15].lower()}.my.salesforce.com",
        "id": f"https://login.salesforce.com/id/{org.org_id}/{user}",
        "issued_at": str(int(datetime.now(UTC).timestamp() * 1000)),
        "signature": secrets.token_urlsafe(32),
    }


class OrgSpec(BaseModel):
    limit: int = Field(15_000, ge=1, le=10_000_000, description="API requests per 24 hours.")


def salesforce_routers(state: SalesforceState) -> list[APIRouter]:
    api = APIRouter(prefix="/services/data/{version}", tags=["salesforce"])

    def admitted(request: Request) -> Org | Response:
        org = state.authenticated(request)
        if org is None:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        org.calls += 1
        if org.window.admit() is None:
            return answered(
                org, _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            )
        return org

    def answered(org: Org, answer: Response) -> Response:
        answer.headers["Sforce-Limit-Info"] = f"api-usage={org.window.used}/{org.window.limit}"
        return answer

    def sobject_or_error(name: str) -> str | Response:
        canonical = _canonical(name)
        if canonical is None:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        return canonical

    async def body_of(request: Request) -> dict[str, Any] | Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _errors(400, "JSON_PARSER_ERROR", "Unexpected character: the body is not JSON")
        if not isinstance(body, dict):
            return _errors(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject")
        return body

    def unknown_fields(sobject: str, body: dict[str, Any]) -> Response | None:
        known = _fields_of(sobject) or {}
        for name in body:
            canonical = known.get(name.lower())
            if canonical is None or name.lower() == "__name__":
                return _errors(400, "INVALID_FIELD",
                               f"No such column '{name}' on sobject of type {sobject}")  # fmt: skip
            if canonical in READ_ONLY:
                return _errors(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                               f"Unable to create/update fields: {canonical}. Please check the "
                               "security settings of this field.", [canonical])  # fmt: skip
        return None

    def canonical_body(sobject: str, body: dict[str, Any]) -> dict[str, Any]:
        known = _fields_of(sobject) or {}
        return {known[name.lower()]: value for name, value in body.items()}

    @api.get("/query")
    async def query(version: str, request: Request, q: str = "") -> Response:
        org = admitted(request)
        if isinstance(org, Response):
            return org
        if not q.strip():
            return answered(org, _errors(400, "MALFORMED_QUERY", "unexpected token: '<EOF>'"))
        try:
            parsed = parse(q, _fields_of)
        except SoqlError as exc:
            return answered(org, _errors(400, exc.code, str(exc)))
        rows = run(parsed, list(org.records[parsed.sobject].values()))
        if parsed.count:
            return answered(
                org, JSONResponse({"totalSize": len(rows), "done": True, "records": []})
            )
        records = [_view(version, parsed.sobject, r, parsed.fields) for r in rows]
        return answered(org, page(org, version, records, 0, batch_size(request)))

    def batch_size(request: Request) -> int:
        options = request.headers.get("sforce-query-options", "")
        for option in options.split(","):
            name, _, value = option.partition("=")
            if name.strip().lower() == "batchsize" and value.strip().isdigit():
                return max(BATCH[0], min(BATCH[1], int(value)))
        return BATCH[1]

    def page(
        org: Org, version: str, records: list[dict[str, Any]], start: int, size: int
    ) -> Response:
        chosen = records[start : start + size]
        body: dict[str, Any] = {"totalSize": len(records), "done": start + size >= len(records),
                                "records": chosen}  # fmt: skip
        if not body["done"]:
            cursor = f"01g{secrets.token_hex(6)}-{start + size}"
            org.cursors[cursor] = (records, size)
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{cursor}"
        return JSONResponse(body)

    @api.get("/query/{cursor}")
    async def more(version: str, cursor: str, request: Request) -> Response:
        org = admitted(request)
        if isinstance(org, Response):
            return org
        held = org.cursors.pop(cursor, None)
        if held is None:
            return answered(org, _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator"))
        start = int(cursor.rsplit("-", 1)[1])
        return answered(org, page(org, version, held[0], start, held[1]))

    @api.get("/limits")
    async def limits(version: str, request: Request) -> Response:
        org = admitted(request)
        if isinstance(org, Response):
            return org
        remaining = org.window.limit - org.window.used
        body = {"DailyApiRequests": {"Max": org.window.limit, "Remaining": remaining}}
        return answered(org, JSONResponse(body))

    @api.post("/sobjects/{sobject}")
    async def create(version: str, sobject: str, request: Request) -> Response:
        org = admitted(request)
        if isinstance(org, Response):
            return org
        name = sobject_or_error(sobject)
        body = await body_of(request)
        if isinstance(name, Response) or isinstance(body, Response):
            return answered(org, name if isinstance(name, Response) else body)  # type: ignore[arg-type]
        refused = unknown_fields(name, body)
        if refused is not None:
            return answered(org, refused)
        values = canonical_body(name, body)
        missing = [f for f in OBJECTS[name]["required"] if values.get(f) in (None, "")]
        if missing:
            return answered(org, _errors(400, "REQUIRED_FIELD_MISSING",
                                         f"Required fields are missing: [{', '.join(missing)}]",
                                         missing))  # fmt: skip
        for reference in ("AccountId", "ContactId"):
            target = values.get(reference)
            kind = "Account" if reference == "AccountId" else "Contact"
            if target and target not in org.records[kind]:
                return answered(org, _errors(400, "MALFORMED_ID",
                                             f"{kind} ID: id value of incorrect type: {target}",
                                             [reference]))  # fmt: skip
        record = state.make(org, name, values)
        made = {"id": record["Id"], "success": True, "errors": []}
        return answered(org, JSONResponse(made, status_code=201))

    def find(org: Org, sobject: str, record_id: str) -> dict[str, Any] | None:
        records = org.records[sobject]
        if len(record_id) == 15:
            return next((r for r in records.values() if r["Id"][:15] == record_id), None)
        return records.get(record_id)

    @api.get("/sobjects/{sobject}/{record_id}")
    async def read(version: str, sobject: str, record_id: str, request: Request,
                   fields: str | None = None) -> Response:  # fmt: skip
        org = admitted(request)
        if isinstance(org, Response):
            return org
        name = sobject_or_error(sobject)
        if isinstance(name, Response):
            return answered(org, name)
        record = find(org, name, record_id)
        if record is None:
            return answered(org, _errors(404, "NOT_FOUND", "The requested resource does not exist"))
        names = None
        if fields:
            known = _fields_of(name) or {}
            names = []
            for given in (f.strip() for f in fields.split(",") if f.strip()):
                if given.lower() not in known or given.lower() == "__name__":
                    message = f"No such column '{given}' on entity '{name}'."
                    return answered(org, _errors(400, "INVALID_FIELD", message))
                names.append(known[given.lower()])
        return answered(org, JSONResponse(_view(version, name, record, names)))

    @api.patch("/sobjects/{sobject}/{record_id}")
    async def update(version: str, sobject: str, record_id: str, request: Request) -> Response:
        org = admitted(request)
        if isinstance(org, Response):
            return org
        name = sobject_or_error(sobject)
        body = await body_of(request)
        if isinstance(name, Response) or isinstance(body, Response):
            return answered(org, name if isinstance(name, Response) else body)  # type: ignore[arg-type]
        record = find(org, name, record_id)
        if record is None:
            return answered(org, _errors(404, "NOT_FOUND", "The requested resource does not exist"))
        refused = unknown_fields(name, body)
        if refused is not None:
            return answered(org, refused)
        values = canonical_body(name, body)
        cleared = [f for f in OBJECTS[name]["required"] if f in values and values[f] in (None, "")]
        if cleared:
            return answered(org, _errors(400, "REQUIRED_FIELD_MISSING",
                                         f"Required fields are missing: [{', '.join(cleared)}]",
                                         cleared))  # fmt: skip
        record.update(values)
        record["LastModifiedDate"] = _now()
        if "LastName" in values or "FirstName" in values:
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record["LastName"]) if p)
        return answered(org, Response(status_code=204))

    sandbox = APIRouter(prefix="/sandbox/salesforce", tags=["sandbox"])

    @sandbox.post("/orgs", status_code=201)
    async def new_org(spec: OrgSpec) -> dict[str, Any]:
        """An org with an account (Acme Corp) and a contact (Ana Lopez), and a session token."""
        return state.new_org(spec.limit).summary()

    @sandbox.get("/orgs/{org_id}")
    async def org_view(org_id: str) -> dict[str, Any]:
        found = state.orgs.get(org_id)
        if found is None:
            raise HTTPException(404, f"no org {org_id}")
        return found.summary()

    return [api, sandbox]
