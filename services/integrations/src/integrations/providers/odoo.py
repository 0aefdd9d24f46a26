"""Odoo, through its external JSON-RPC API (`POST {url}/jsonrpc`, Odoo 14 to 21): the `common`
service's `authenticate` once per connection and credentials (the uid is kept), then the
`object` service's `execute_kw(db, uid, password, model, method, args, kwargs)` for each call.
Odoo has no client SDK for Python that is async (odoorpc and xmlrpc.client block), so it is
httpx.

Actions: `searchRecords` (`search_read`: model, domain (default all), fields, limit (80, at
most 500), offset, order) -> `{records, count}`; `getRecord` (`read`: model, recordId, fields)
-> the record; `createRecord` (`create`: model, values) -> `{id}`; `updateRecord` (`write`:
model, recordId, values) -> `{id, updated}`. Odoo takes no idempotency key: a create whose
answer was lost (a timeout) may have been made.

Errors: a JSON-RPC `error` by its `data.name`, Odoo's exception (AccessDenied Unauthorized,
AccessError Forbidden, MissingError NotFound, UserError, ValidationError, ValueError and
other Python errors Invalid; a serialization failure Unavailable); `authenticate` answering
`false` Unauthorized; HTTP 429 RateLimited (Retry-After), 5xx Unavailable. The message is
Odoo's (`data.message`), never the traceback or the password."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from typing import Any

import httpx
from contracts.connections import Limits

from integrations.adapters.http_provider import reaching, retry_after
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection

Document = dict[str, Any]
# Odoo documents no rate limit for its external API; Odoo.sh and Odoo Online throttle busy
# databases (HTTP 429). A gentle default: a database also serves the tenant's own users.
LIMITS = Limits(rate=10, per_seconds=1, burst=20, concurrency=4)
MAX_LIMIT = 500
MAX_MESSAGE = 500
_BY_EXCEPTION = {
    "odoo.exceptions.AccessDenied": "Unauthorized",
    "odoo.exceptions.AccessError": "Forbidden",
    "odoo.exceptions.MissingError": "NotFound",
    "odoo.exceptions.CacheMiss": "NotFound",
    "psycopg2.errors.SerializationFailure": "Unavailable",
    "psycopg2.extensions.TransactionRollbackError": "Unavailable",
    "psycopg2.OperationalError": "Unavailable",
}


def _model(params: Mapping[str, Any]) -> str:
    model = params.get("model")
    if not isinstance(model, str) or not model.strip():
        raise IntegrationError("Invalid", "Odoo: model must be a model's name, e.g. res.partner")
    return model.strip()


def _record_id(params: Mapping[str, Any]) -> int:
    value: Any = params.get("recordId")
    try:
        record_id = int(value) if not isinstance(value, bool) else 0
    except (TypeError, ValueError):
        record_id = 0
    if record_id <= 0:
        raise IntegrationError("Invalid", "Odoo: recordId must be a record's id (a number)")
    return record_id


def _values(params: Mapping[str, Any]) -> Document:
    values = params.get("values")
    if not isinstance(values, dict):
        raise IntegrationError("Invalid", "Odoo: values must be an object of field values")
    return values


def _fields(params: Mapping[str, Any]) -> Document:
    fields = params.get("fields")
    if fields in (None, "", []):
        return {}
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",") if f.strip()]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise IntegrationError("Invalid", "Odoo: fields must be a list of field names")
    return {"fields": fields}


def _search(params: Mapping[str, Any]) -> tuple[list[Any], Document]:
    domain = params.get("domain")
    if domain in (None, ""):
        domain = []
    if not isinstance(domain, list):
        raise IntegrationError(
            "Invalid", 'Odoo: domain must be a list such as [["email", "=", "a@b.c"]]'
        )
    kwargs = _fields(params)
    try:
        limit = int(params.get("limit") or 80)
        offset = int(params.get("offset") or 0)
    except (TypeError, ValueError):
        raise IntegrationError("Invalid", "Odoo: limit and offset must be numbers") from None
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise IntegrationError("Invalid", f"Odoo: limit must be 1 to {MAX_LIMIT}, offset >= 0")
    kwargs |= {"limit": limit, "offset": offset}
    if isinstance(params.get("order"), str) and params["order"].strip():
        kwargs["order"] = params["order"].strip()
    return [domain], kwargs


class OdooClient:
    type = "odoo"
    actions: Mapping[str, tuple[str, ...]] = {
        "searchRecords": ("model",),
        "getRecord": ("model", "recordId"),
        "createRecord": ("model", "values"),
        "updateRecord": ("model", "recordId", "values"),
    }
    default_limits = LIMITS

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._uids: dict[str, tuple[str, int]] = {}  # connection -> (credentials digest, uid)
        self._ids = itertools.count(1)

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        model = _model(params)
        if action == "searchRecords":
            args, kwargs = _search(params)
            records = await self._execute(connection, context, model, "search_read", args, kwargs)
            return {"records": records, "count": len(records)}
        if action == "getRecord":
            record_id = _record_id(params)
            found = await self._execute(
                connection, context, model, "read", [[record_id]], _fields(params)
            )
            if not found:
                raise IntegrationError("NotFound", f"Odoo: no {model} record {record_id}")
            record: Document = found[0]
            return record
        if action == "createRecord":
            made = await self._execute(connection, context, model, "create", [_values(params)], {})
            return {"id": made[0] if isinstance(made, list) else made}
        if action == "updateRecord":
            record_id = _record_id(params)
            args = [[record_id], _values(params)]
            updated = await self._execute(connection, context, model, "write", args, {})
            return {"id": record_id, "updated": bool(updated)}
        raise IntegrationError("Invalid", f"Odoo has no action {action!r}")

    async def check(self, connection: Connection, context: CallContext) -> Document:
        uid = await self._uid(connection, context, fresh=True)
        version = await self._rpc(connection, context, "common", "version", [])
        return {"uid": uid, "server_version": (version or {}).get("server_version")}

    async def _execute(
        self,
        connection: Connection,
        context: CallContext,
        model: str,
        method: str,
        args: list[Any],
        kwargs: Document,
    ) -> Any:
        uid = await self._uid(connection, context)
        database, password = self._login(connection)[0], connection.secret("password")
        try:
            return await self._rpc(
                connection,
                context,
                "object",
                "execute_kw",
                [database, uid, password, model, method, args, kwargs],
            )
        except IntegrationError as exc:
            if exc.error_type == "Unauthorized":  # the password changed: log in anew next time
                self._uids.pop(connection.id, None)
            raise

    def _login(self, connection: Connection) -> tuple[str, str]:
        return str(getattr(connection.config, "database", "")), connection.secret("username")

    async def _uid(self, connection: Connection, context: CallContext, fresh: bool = False) -> int:
        database, username = self._login(connection)
        password = connection.secret("password")
        digest = hashlib.sha256(f"{database}\0{username}\0{password}".encode()).hexdigest()
        held = self._uids.get(connection.id)
        if held is not None and held[0] == digest and not fresh:
            return held[1]
        uid = await self._rpc(
            connection, context, "common", "authenticate", [database, username, password, {}]
        )
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            raise IntegrationError(
                "Unauthorized", f"Odoo refused the login of {username!r} to database {database!r}"
            )
        self._uids[connection.id] = (digest, uid)
        return uid

    async def _rpc(
        self,
        connection: Connection,
        context: CallContext,
        service: str,
        method: str,
        args: list[Any],
    ) -> Any:
        url = f"{connection.base(str(getattr(connection.config, 'url', '')))}/jsonrpc"
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._ids),
        }
        seconds = context.seconds_for(connection)
        with reaching("Odoo", seconds):
            response = await self._http.post(url, json=body, timeout=seconds)
        status = response.status_code
        if status != 200:
            raise IntegrationError.from_status(
                status, f"Odoo answered HTTP {status}", retry_after(response)
            )
        try:
            answer = response.json()
        except ValueError:
            raise IntegrationError("BadResponse", "Odoo answered something not JSON") from None
        if not isinstance(answer, dict):
            raise IntegrationError("BadResponse", "Odoo answered something not JSON-RPC")
        error = answer.get("error")
        if isinstance(error, dict):
            raise self._error(error, connection)
        return answer.get("result")

    @staticmethod
    def _error(error: Document, connection: Connection) -> IntegrationError:
        data: Document = error["data"] if isinstance(error.get("data"), dict) else {}
        name = str(data.get("name") or "")
        said = str(data.get("message") or error.get("message") or "Odoo Server Error")
        said = " ".join(said.split())[:MAX_MESSAGE]
        password = connection.credentials.get("password")
        if password is not None:
            said = said.replace(password.reveal(), "****")
        kind = _BY_EXCEPTION.get(name, "Invalid")
        label = name.rsplit(".", 1)[-1] or "error"
        return IntegrationError(kind, f"Odoo: {said} ({label})")

    async def aclose(self) -> None:
        self._uids.clear()
