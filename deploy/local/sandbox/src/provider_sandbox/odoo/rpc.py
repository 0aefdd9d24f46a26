"""Odoo's external JSON-RPC endpoint, `POST /jsonrpc`, as Odoo 17-19 answer it.

A request is JSON-RPC 2.0 `{"jsonrpc": "2.0", "method": "call", "params": {"service", "method",
"args"}, "id"}`. Services: `common` (`version`; `login` and `authenticate`: `[db, login,
password(, user_agent_env)]` -> the uid, or `false`) and `object` (`execute_kw`: `[db, uid,
password, model, method, args(, kwargs)]`). Answers are HTTP 200 with `result`, or with `error`
`{code: 200, message: "Odoo Server Error", data: {name, debug, message, arguments, context}}`
(`name` the exception's Python name, e.g. `odoo.exceptions.AccessDenied`); a database asked to
be rate limited answers HTTP 429 with `Retry-After`, as Odoo.sh's proxy does. For tests:
`/sandbox/odoo` makes databases and shows what was called."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .state import OdooException, OdooState

VERSION = {
    "server_version": "18.0",
    "server_version_info": [18, 0, 0, "final", 0, ""],
    "server_serie": "18.0",
    "protocol_version": 1,
}
RETRY_AFTER_SECONDS = 1


def _answer(request_id: Any, result: Any) -> JSONResponse:
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})


def _error(request_id: Any, exc: OdooException) -> JSONResponse:
    data = {
        "name": exc.name,
        "debug": f"Traceback (most recent call last):\n{exc.name}: {exc}\n",
        "message": str(exc),
        "arguments": [str(exc)],
        "context": {},
    }
    error = {"code": 200, "message": "Odoo Server Error", "data": data}
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "error": error})


class DatabaseSpec(BaseModel):
    name: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9_.-]+$")
    login: str = Field("admin", min_length=1)
    password: str = Field(min_length=1, description="The user's password or API key.")
    read_only_login: str | None = Field(None, description="Also a user who may only read.")


def odoo_routers(state: OdooState) -> list[APIRouter]:
    rpc = APIRouter(tags=["odoo"])

    @rpc.post("/jsonrpc")
    async def jsonrpc(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("params"), dict):
            raise HTTPException(400, "Invalid JSON-RPC request")
        request_id = body.get("id")
        params = body["params"]
        args = params.get("args") or []
        try:
            if not isinstance(args, list):
                raise OdooException("builtins.TypeError", "args must be a list")
            service, method = params.get("service"), params.get("method")
            if service == "common" and method == "version":
                return _answer(request_id, VERSION)
            database = state.databases.get(args[0]) if args and isinstance(args[0], str) else None
            if database is not None and database.rate_limited:
                return JSONResponse(
                    {"message": "Too Many Requests"},
                    status_code=429,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            if service == "common" and method in ("login", "authenticate"):
                if database is None or len(args) < 3:
                    raise OdooException(
                        "psycopg2.OperationalError",
                        f'connection to server failed: FATAL: database "{args[:1]}" does not exist',
                    )
                user = database.users.get(args[1])
                ok = user is not None and user.password == args[2]
                return _answer(request_id, user.uid if ok and user else False)
            if service == "object" and method == "execute_kw":
                if database is None or len(args) < 6:
                    raise OdooException("odoo.exceptions.AccessDenied", "Access Denied")
                _, uid, password, model, orm_method, orm_args, *rest = args
                kwargs = rest[0] if rest and isinstance(rest[0], dict) else {}
                user = database.user(uid, password)
                if not isinstance(orm_args, list):
                    raise OdooException("builtins.TypeError", "args must be a list")
                database.calls.append(
                    {"uid": uid, "model": model, "method": orm_method, "args": orm_args,
                     "kwargs": kwargs}
                )  # fmt: skip
                kwargs.pop("context", None)
                try:
                    result = database.execute(user, model, orm_method, orm_args, kwargs)
                except TypeError as exc:
                    raise OdooException("builtins.TypeError", str(exc)) from None
                return _answer(request_id, result)
            raise OdooException(
                "builtins.AttributeError", f"Unknown service or method {service}.{method}"
            )
        except OdooException as exc:
            return _error(request_id, exc)

    sandbox = APIRouter(prefix="/sandbox/odoo", tags=["sandbox"])

    @sandbox.post("/databases", status_code=201)
    async def new_database(spec: DatabaseSpec) -> dict[str, Any]:
        """A database with its user (and a read-only one), three partners and two orders."""
        if spec.name in state.databases:
            raise HTTPException(409, f"database {spec.name} exists")
        made = state.new_database(spec.name, spec.login, spec.password, spec.read_only_login)
        return made.summary()

    @sandbox.post("/databases/{name}/rate-limited")
    async def rate_limited(name: str, on: bool = True) -> dict[str, Any]:
        database = state.databases.get(name)
        if database is None:
            raise HTTPException(404, f"no database {name}")
        database.rate_limited = on
        return database.summary()

    @sandbox.get("/databases/{name}/records/{model}")
    async def records(name: str, model: str) -> dict[str, Any]:
        database = state.databases.get(name)
        if database is None:
            raise HTTPException(404, f"no database {name}")
        return {"records": list(database.records.get(model, {}).values())}

    @sandbox.get("/databases/{name}/calls")
    async def calls(name: str) -> dict[str, Any]:
        database = state.databases.get(name)
        if database is None:
            raise HTTPException(404, f"no database {name}")
        return {"calls": database.calls}

    @sandbox.delete("")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return [rpc, sandbox]
