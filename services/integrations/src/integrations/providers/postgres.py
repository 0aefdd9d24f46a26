"""Postgres: one parameterised statement on the tenant's database, through psycopg 3 (async).

The node's ``query`` keeps PostgreSQL's own placeholders (``$1``, ``$2``: psycopg's raw cursor)
and its ``params`` (a list) travel as bind parameters in the extended protocol: a value is never
spliced into the SQL. Each call is one transaction on a session of the connection (kept
for the next call while healthy and its DSN unchanged): ``read_only`` (the default) makes it
a read-only transaction, ``statement_timeout_ms`` is set for it alone (``set_config(..., true)``),
and at most ``max_rows`` rows come back (``truncated`` says there were more). Rows are JSON-safe
objects by column name: numeric as exact strings (as node-postgres gives them), timestamps and
dates ISO 8601, bytea base64, uuid and intervals as text, json as it was.

Errors by SQLSTATE class (https://www.postgresql.org/docs/current/errcodes-appendix.html): 28
(authorization) Unauthorized, 42501 and 25006 (a write in a read-only transaction) Forbidden,
57014 (the statement timeout) Timeout, 23 (a constraint) Conflict, 08, 53, 57, 40 (a
connection lost, resources, shutdown, a deadlock: rolled back) Unavailable, others (22 data,
42 syntax or an unknown table) Invalid. A failed connect has no SQLSTATE: the server's message
tells a refused login (Unauthorized) and an unknown database (NotFound) from no server there
(Unavailable). The message is PostgreSQL's, the DSN's password masked."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from contracts.connections import Limits
from psycopg.types.json import Jsonb

from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection

Document = dict[str, Any]
# A database of the tenant's: a few connections at once, as many statements as they can run.
LIMITS = Limits(rate=200, per_seconds=1, burst=200, concurrency=4)
_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@|(password\s*=\s*)\S+", re.IGNORECASE)
_REFUSED_LOGIN = re.compile(
    r"authentication failed|no pg_hba\.conf entry|role \"[^\"]*\" does not exist|"
    r"no password supplied|permission denied for database|not permitted to log in",
)
_NO_DATABASE = re.compile(r"database \"[^\"]*\" does not exist")
_BY_STATE = {
    "42501": "Forbidden",
    "25006": "Forbidden",
    "57014": "Timeout",
}
_BY_CLASS = {
    "28": "Unauthorized",
    "23": "Conflict",
    "08": "Unavailable",
    "53": "Unavailable",
    "57": "Unavailable",
    "40": "Unavailable",
}


def _masked(text: str, dsn: str) -> str:
    text = text.replace(dsn, "****") if dsn else text
    return _PASSWORD.sub(lambda m: f"{m[1]}****@" if m[1] else f"{m[2]}****", text)


def _error(exc: psycopg.Error, dsn: str) -> IntegrationError:
    state = exc.sqlstate or ""
    said = " ".join((str(exc) or type(exc).__name__).split())
    message = f"Postgres: {_masked(said, dsn)}" + (f" (SQLSTATE {state})" if state else "")
    kind = _BY_STATE.get(state) or _BY_CLASS.get(state[:2])
    if kind is None and not state and isinstance(exc, psycopg.OperationalError):
        kind = _connect_refusal(said)
    return IntegrationError(kind or "Invalid", message)


def _connect_refusal(said: str) -> str:
    """A failed connect carries no SQLSTATE (libpq has none before a session): the server's
    FATAL message says whether it refused who we are, does not know the database, or was not
    there at all."""
    if _REFUSED_LOGIN.search(said):
        return "Unauthorized"
    if _NO_DATABASE.search(said):
        return "NotFound"
    return "Unavailable"


def _param(value: Any) -> Any:
    """A node's parameter as psycopg binds it: objects and lists as jsonb."""
    return Jsonb(value) if isinstance(value, dict | list) else value


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, UUID | dt.timedelta):
        return str(value)
    return str(value)


def _statement(params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    query = params.get("query")
    if not isinstance(query, str) or not query.strip():
        raise IntegrationError("Invalid", "Postgres: query must be an SQL statement")
    if "\x00" in query:
        raise IntegrationError("Invalid", "Postgres: query must not contain NUL")
    values = params.get("params")
    if values is None:
        values = []
    if not isinstance(values, list):
        raise IntegrationError("Invalid", "Postgres: params must be a list (bound to $1, $2, ...)")
    return query, [_param(v) for v in values]


class _Idle:
    """A connection's open sessions not in use, newest last (the throttle caps how many are in
    use at once, so at most that many are kept)."""

    def __init__(self, digest: str) -> None:
        self.digest = digest  # of the DSN they were opened with
        self.sessions: list[tuple[float, psycopg.AsyncConnection[Any]]] = []


class PostgresClient:
    """Sessions are reused, not pooled by psycopg_pool: its pool connects in the background
    and, when PostgreSQL refuses (a wrong password, an unknown database), a caller only gets
    "couldn't get a connection" after the timeout; connecting in the call gives PostgreSQL's
    own reason, typed. A session idle for ``IDLE_SECONDS`` is closed rather than reused."""

    type = "postgres"
    actions: Mapping[str, tuple[str, ...]] = {"query": ("query",)}
    default_limits = LIMITS
    IDLE_SECONDS = 60.0

    def __init__(self) -> None:
        self._idle: dict[str, _Idle] = {}  # connection id -> its idle sessions

    async def _session(self, connection: Connection, dsn: str) -> psycopg.AsyncConnection[Any]:
        digest = hashlib.sha256(dsn.encode()).hexdigest()
        idle = self._idle.get(connection.id)
        if idle is None or idle.digest != digest:  # new credentials: the old sessions go
            stale, idle = idle, _Idle(digest)
            self._idle[connection.id] = idle
            if stale is not None:
                await asyncio.gather(*(s.close() for _, s in stale.sessions))
        now = time.monotonic()
        while idle.sessions:
            since, session = idle.sessions.pop()
            if not session.closed and now - since < self.IDLE_SECONDS:
                return session
            await session.close()
        return await psycopg.AsyncConnection.connect(
            dsn, autocommit=False, cursor_factory=psycopg.AsyncRawCursor
        )

    def _release(
        self, connection: Connection, dsn: str, session: psycopg.AsyncConnection[Any]
    ) -> bool:
        """Keep a healthy session for the next call (False: close it)."""
        idle = self._idle.get(connection.id)
        healthy = (
            not session.closed
            and session.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        )
        digest = hashlib.sha256(dsn.encode()).hexdigest()
        if idle is None or idle.digest != digest or not healthy:
            return False
        idle.sessions.append((time.monotonic(), session))
        return True

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        if action != "query":
            raise IntegrationError("Invalid", f"Postgres has no action {action!r}")
        query, values = _statement(params)
        return await self._run(connection, context, query, values)

    async def check(self, connection: Connection, context: CallContext) -> Document:
        answer = await self._run(
            connection,
            context,
            "select current_user as user, current_database() as database,"
            " current_setting('server_version') as server_version",
            [],
        )
        return dict(answer["rows"][0])

    async def _run(
        self, connection: Connection, context: CallContext, query: str, values: list[Any]
    ) -> Document:
        dsn = connection.secret("dsn")
        config = connection.config
        read_only = bool(getattr(config, "read_only", True))
        max_rows = int(getattr(config, "max_rows", 1000))
        timeout_ms = int(getattr(config, "statement_timeout_ms", 5000))
        seconds = context.seconds_for(connection)
        session: psycopg.AsyncConnection[Any] | None = None
        try:
            async with asyncio.timeout(seconds):
                session = await self._session(connection, dsn)
                await session.set_read_only(read_only)
                async with session.transaction(), session.cursor() as cursor:
                    await cursor.execute(
                        "select set_config('statement_timeout', $1, true)", [str(timeout_ms)]
                    )
                    await cursor.execute(query, values)
                    answer = await self._answer(cursor, max_rows)
        except TimeoutError:
            raise IntegrationError(
                "Timeout", f"Postgres did not answer within {seconds:.1f}s"
            ) from None
        except psycopg.Error as exc:
            raise _error(exc, dsn) from None
        except ValueError as exc:  # a DSN psycopg cannot parse, a value it cannot bind
            raise IntegrationError("Invalid", f"Postgres: {_masked(str(exc), dsn)}") from None
        finally:
            if session is not None and not self._release(connection, dsn, session):
                await session.close()
        return answer

    @staticmethod
    async def _answer(cursor: psycopg.AsyncCursor[Any], max_rows: int) -> Document:
        if cursor.description is None:  # a statement without rows (an update, an insert)
            return {"rows": [], "rowCount": cursor.rowcount, "columns": [], "truncated": False}
        columns = [column.name for column in cursor.description]
        fetched = await cursor.fetchmany(max_rows + 1)
        rows = [
            {name: _json_safe(value) for name, value in zip(columns, row, strict=True)}
            for row in fetched[:max_rows]
        ]
        result = {
            "rows": rows,
            "rowCount": len(rows),
            "columns": columns,
            "truncated": len(fetched) > max_rows,
        }
        json.dumps(result)  # JSON-safe, or it fails here rather than on the topic
        return result

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for held in idle.values():
            await asyncio.gather(*(session.close() for _, session in held.sessions))
