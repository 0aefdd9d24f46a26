"""Perform an integration request once per idempotency key, then settle the execution's effect.

One request: its call record is started (a redelivered request finds the outcome recorded),
the connection resolved (integrations.adapters.connections), the call made by the type's
client (or echoed, or forwarded over http) through the throttle (the connection's rate and
cap, the service's fair gate), transient errors retried within the retry budget, and the
outcome recorded (a summary of the request without its values, the status, the latency, the
attempts) and sent back to the execution as EffectSettled."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts import Envelope, topics
from contracts.connections import Limits
from contracts.events import EffectSettled, IntegrationRequested
from servicekit.publisher import Publish
from servicekit.telemetry import consuming, current_trace
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from integrations.adapters.store import recorded_outcome
from integrations.domain.operations import IntegrationCall, IntegrationError, echo
from integrations.domain.providers import CallContext, Connection, ProviderClient
from integrations.telemetry import ATTEMPTS, CALL_DURATION, CALLS, tracer
from integrations.throttle import TenantAdmission, Throttle

log = logging.getLogger(__name__)
SOURCE = "/connectflo/integrations"
GROUP = "integrations"
Document = dict[str, Any]
HTTP_LIMITS = Limits(rate=50, concurrency=8)  # a tenant's own service: be gentle by default
ECHO = "echo"


class CallRecords(Protocol):
    async def start(self, doc: Document) -> Document | None: ...

    async def finish(self, key: str, outcome: Document) -> None: ...


class Connections(Protocol):
    async def resolve(
        self, tenant_id: str, type_name: str, workflow_id: str | None, named: str | None
    ) -> Connection: ...

    async def get(
        self, tenant_id: str, connection_id: str, type_name: str | None = None
    ) -> Connection: ...


class HttpMode(Protocol):
    async def perform(
        self, connection: Connection, call: IntegrationCall, idempotency_key: str
    ) -> Document: ...


class Refresh(Protocol):
    """Renews an OAuth connection's access token (before it expires, or after a 401): the
    connection to call with, or None when it cannot be renewed (then a 401 stands);
    ConnectionBroken when the provider refused the grant."""

    async def __call__(self, connection: Connection) -> Connection | None: ...


class IntegrationService:
    def __init__(
        self,
        calls: CallRecords,
        connections: Connections,
        clients: Mapping[str, ProviderClient],
        http: HttpMode,
        publish: Publish,
        throttle: Throttle,
        *,
        retry_budget_seconds: float = 20.0,
        max_attempts: int = 4,
        refresh: Refresh | None = None,
        max_active_per_tenant: int = 64,
        refresh_leeway_seconds: float = 60.0,
    ) -> None:
        self._calls = calls
        self._connections = connections
        self._clients = clients
        self._http = http
        self._publish = publish
        self._throttle = throttle
        self._budget = retry_budget_seconds
        self._max_attempts = max_attempts
        self._refresh = refresh
        self._leeway = refresh_leeway_seconds
        self._admission = TenantAdmission(max_active_per_tenant)
        self._in_flight: dict[str, asyncio.Future[tuple[Document | None, Document | None]]] = {}

    async def on_integration_requested(
        self, envelope: Envelope[IntegrationRequested], begun: Callable[[], None] = lambda: None
    ) -> None:
        request = envelope.data
        with consuming(tracer, topics.INTEGRATION_REQUESTS, envelope, group=GROUP) as span:
            result, error = await self._call_once(request, begun)
            span.set_attribute("connectflo.integration.outcome", error["type"] if error else "ok")
            event = EffectSettled.answering(request, result=result, error=error)
            out = Envelope.wrap(
                event, source=SOURCE, tenant_id=request.tenant_id, **current_trace()
            )
            await self._publish(
                out.body(), topics.EXECUTION_COMMANDS, request.execution_id.encode(), out.headers()
            )

    async def check(
        self, tenant_id: str, connection_id: str
    ) -> tuple[Document | None, Document | None]:
        """ "Check connection": the provider's cheap read through the same lane as calls."""
        try:
            connection = await self._connections.get(tenant_id, connection_id)
            _usable(connection)
            if connection.mode != "provider":  # nothing of a provider's to read
                return {"mode": connection.mode, "provider_read": False}, None
            client = self._client(connection)
            limits = connection.limits or client.default_limits

            async def attempt(conn: Connection) -> Document:
                async with self._throttle.slot(conn.id, tenant_id, limits):
                    context = CallContext.within("check:" + conn.id, conn.timeout_seconds)
                    return await client.check(conn, context)

            # as a call is: an OAuth token renewed when it expires or is refused
            return await self._with_retries(attempt, connection), None
        except IntegrationError as exc:
            return None, exc.as_error()

    async def answer_now(
        self, tenant_id: str, type_name: str, named: str | None, action: str, params: Document
    ) -> tuple[Document | None, Document | None]:
        """An action answered to the caller now, not through the requests topic (the
        executor's intent classification): the connection ``named`` (id or name; else the
        tenant's default of ``type_name``), the same throttle and retries as a call."""
        try:
            connection = await self._connections.resolve(tenant_id, type_name, None, named)
            _usable(connection)
            if connection.mode != "provider":
                raise IntegrationError(
                    "Invalid",
                    f"{action} needs a provider connection, {connection.name!r} is "
                    f"{connection.mode}",
                )
            client = self._client(connection)
            missing = [p for p in client.actions.get(action, ()) if p not in params]
            if action not in client.actions or missing:
                raise IntegrationError("Invalid", f"{type_name} {action}: missing {missing}")
            limits = connection.limits or client.default_limits

            async def attempt(conn: Connection) -> Document:
                async with self._throttle.slot(conn.id, tenant_id, limits):
                    context = CallContext.within(f"{action}:{conn.id}", conn.timeout_seconds)
                    return await client.call(conn, action, params, context)

            return await self._with_retries(attempt, connection), None
        except IntegrationError as exc:
            return None, exc.as_error()

    async def _call_once(
        self, request: IntegrationRequested, begun: Callable[[], None]
    ) -> tuple[Document | None, Document | None]:
        """The call's outcome: that of the same call in flight here (a redelivery read while
        the first is still waiting), recorded by an earlier attempt, or performed now."""
        key = request.idempotency_key
        same = self._in_flight.get(key)
        if same is not None:
            return await asyncio.shield(same)
        future: asyncio.Future[tuple[Document | None, Document | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self._in_flight[key] = future
        try:
            async with self._admission.turn(request.tenant_id):
                outcome = await self._recorded_or_performed(request, begun)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a waiter may not exist
            raise
        else:
            future.set_result(outcome)
            return outcome
        finally:
            del self._in_flight[key]

    async def _recorded_or_performed(
        self, request: IntegrationRequested, begun: Callable[[], None]
    ) -> tuple[Document | None, Document | None]:
        earlier = await self._calls.start(
            {
                "_id": request.idempotency_key,
                "tenant_id": request.tenant_id,
                "execution_id": request.execution_id,
                "node_id": request.node_id,
                "kind": request.kind,
                "status": "queued",
                "queued_at": datetime.now(UTC),
            }
        )
        if earlier is not None and earlier.get("status") not in ("queued", "running"):
            return recorded_outcome(earlier)
        # New, or an attempt that died mid-call: perform (again). The provider sees the same
        # idempotency key both times.
        outcome = await self._perform(request, begun)
        result, error = outcome.pop("result"), outcome.pop("error")
        await self._calls.finish(
            request.idempotency_key, {**outcome, "result": result, "error": error}
        )
        return result, error

    async def _perform(self, request: IntegrationRequested, begun: Callable[[], None]) -> Document:
        """The outcome to record: result or error, and how it went. Infrastructure failures
        (MongoDB) raise: the message is then handled again, and dead-lettered if it keeps
        failing."""
        integration = request.kind.removeprefix("integration.")
        summary: Document = {"integration": integration}
        attempts = 0
        started = time.perf_counter()
        try:
            call = IntegrationCall.of(request.kind, request.request)
            integration = call.integration
            summary.update(action=call.action, params=sorted(call.params))
            connection = await self._connections.resolve(
                request.tenant_id, call.integration, request.workflow_id, call.connection
            )
            summary.update(connection_id=connection.id, mode=connection.mode)
            _usable(connection)
            perform = self._performer(connection, call, request.idempotency_key)
            limits = self._limits(connection)

            async def attempt(conn: Connection) -> Document:
                nonlocal attempts
                async with self._throttle.slot(conn.id, request.tenant_id, limits):
                    begun()
                    attempts += 1
                    return await perform(conn)

            result = await self._with_retries(attempt, connection)
        except IntegrationError as exc:
            outcome = self._outcome(integration, started, attempts, summary, None, exc.as_error())
            CALLS.labels(integration, exc.error_type).inc()
            return outcome
        CALLS.labels(integration, "ok").inc()
        return self._outcome(integration, started, attempts, summary, result, None)

    def _outcome(
        self,
        integration: str,
        started: float,
        attempts: int,
        summary: Document,
        result: Document | None,
        error: Document | None,
    ) -> Document:
        elapsed = time.perf_counter() - started
        CALL_DURATION.labels(integration).observe(elapsed)
        ATTEMPTS.labels(integration).observe(attempts)
        return {
            "result": result,
            "error": error,
            "request": summary,
            "attempts": attempts,
            "latency_ms": round(elapsed * 1000, 1),
            "status_code": (error or {}).get("status"),
        }

    def _performer(
        self, connection: Connection, call: IntegrationCall, key: str
    ) -> Callable[[Connection], Awaitable[Document]]:
        if connection.mode == ECHO:

            async def echoed(_: Connection) -> Document:
                return echo(call)

            return echoed
        if connection.mode == "http":

            async def forwarded(conn: Connection) -> Document:
                return await self._http.perform(conn, call, key)

            return forwarded
        client = self._client(connection)
        missing = [p for p in client.actions.get(call.action, ()) if p not in call.params]
        if call.action not in client.actions:
            known = ", ".join(client.actions)
            raise IntegrationError(
                "Invalid", f"{call.integration} has no action {call.action!r}; known: {known}"
            )
        if missing:
            raise IntegrationError(
                "Invalid", f"{call.integration} {call.action} needs {', '.join(missing)}"
            )

        async def provided(conn: Connection) -> Document:
            context = CallContext.within(key, conn.timeout_seconds)
            return await client.call(conn, call.action, call.params, context)

        return provided

    def _client(self, connection: Connection) -> ProviderClient:
        client = self._clients.get(connection.type)
        if client is None:
            raise IntegrationError(
                "NotConnected",
                f"{connection.type} has no provider client here yet: use an echo or http "
                "connection for it",
            )
        return client

    def _limits(self, connection: Connection) -> Limits:
        if connection.limits is not None:
            return connection.limits
        if connection.mode == "provider":
            return self._client(connection).default_limits
        return HTTP_LIMITS

    async def _with_retries(
        self, attempt: Callable[[Connection], Awaitable[Document]], connection: Connection
    ) -> Document:
        """Transient errors again, with jittered back-off or the provider's Retry-After, while
        the next try starts within the budget; a 401 once more after an OAuth refresh."""
        deadline = time.monotonic() + self._budget
        if self._refresh is not None and connection.token_expiring(self._leeway):
            connection = await self._refresh(connection) or connection
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, IntegrationError) and e.transient),
            stop=stop_after_attempt(self._max_attempts) | _past(deadline),
            wait=_wait,
            reraise=True,
        )
        try:
            return await self._retried(retrying, attempt, connection)
        except IntegrationError as exc:
            if exc.error_type != "Unauthorized" or self._refresh is None:
                raise
            renewed = await self._refresh(connection)
            if renewed is None:
                raise
        return await self._retried(retrying, attempt, renewed)

    @staticmethod
    async def _retried(
        retrying: AsyncRetrying,
        attempt: Callable[[Connection], Awaitable[Document]],
        connection: Connection,
    ) -> Document:
        async for trying in retrying:
            with trying:
                return await attempt(connection)
        raise AssertionError("tenacity reraises the last error")  # pragma: no cover


def _usable(connection: Connection) -> None:
    if not connection.is_active:
        raise IntegrationError("NotConnected", f"connection {connection.name!r} is disabled")
    if connection.status == "pending":
        raise IntegrationError(
            "NotConnected",
            f"connection {connection.name!r} has no credentials yet: complete its OAuth "
            "authorization or give them (PATCH /v1/connections/{id})",
        )
    if connection.status == "broken":
        reason = connection.broken_reason or "it cannot authenticate"
        raise IntegrationError(
            "ConnectionBroken", f"connection {connection.name!r} is broken: {reason}; reconnect it"
        )


_backoff = wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.3)


def _wait(state: RetryCallState) -> float:
    """The provider's Retry-After when it gave one, else exponential back-off with jitter."""
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, IntegrationError) and error.retry_after is not None:
        return float(error.retry_after)
    return float(_backoff(state))


class _past(stop_base):
    """Stop when the next try would start after the deadline."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + (retry_state.upcoming_sleep or 0.0) > self._deadline
