"""What an integration request asks for, the tenant's connection that answers it, and the
errors a workflow sees. Pure: no I/O here.

The executor's integration nodes request `{integration, action, params, outputVariable}` and
may name a `connection`; the tenant's connection (contracts.connections) says how it is
answered by its `mode`:

- `provider`: the type's client (integrations.providers) calls the provider's API;
- `echo`: `{"echo": params, "action": action}`, without calling anything;
- `http`: `POST {base_url}/{action}` with `{action, params, idempotency_key}`; the answer's JSON
  object is the result.

Errors are `{type, code, message, retryable}` (`code` = `type`; plus `status` for an HTTP
answer, `retry_after_seconds` when the provider said when to come back). The types a workflow
can route on or name in a retry policy's non-retryable list (ERROR_TYPES):

- `NotConnected`: no active connection of that type (or of that name) for this tenant;
- `ConnectionBroken`: the connection cannot authenticate any more (a revoked OAuth grant):
  someone must reconnect it;
- `NotFound` (404), `Unauthorized` (401), `Forbidden` (403), `Invalid` (400/422, or a request
  that cannot be one), `Conflict` (409): the provider said no; the same request again cannot
  help;
- `RateLimited` (429, `retry_after_seconds`), `Unavailable` (5xx, connection refused or
  reset), `Timeout` (no answer in time): transient; the service retries them within the call's
  deadline before the workflow sees them;
- `BadResponse`: a 2xx answer that is not JSON, or too large to carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ACTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


ERROR_TYPES = (
    "NotConnected",
    "ConnectionBroken",
    "NotFound",
    "Unauthorized",
    "Forbidden",
    "Invalid",
    "Conflict",
    "RateLimited",
    "Unavailable",
    "Timeout",
    "BadResponse",
)
TRANSIENT = frozenset({"RateLimited", "Unavailable", "Timeout"})
_BY_STATUS = {400: "Invalid", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}


class IntegrationError(Exception):
    """An operation failed in a way the workflow should see (not a crash of this service).
    The message never holds a credential: it says what failed, in the provider's words."""

    def __init__(
        self,
        error_type: str,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.error_type in TRANSIENT

    @classmethod
    def from_status(
        cls, status: int, message: str, retry_after: float | None = None
    ) -> IntegrationError:
        """The type an HTTP error status means (4xx other than these: Invalid; 5xx:
        Unavailable)."""
        if status == 429:
            kind = "RateLimited"
        elif status == 409:
            kind = "Conflict"
        elif status >= 500:
            kind = "Unavailable"
        else:
            kind = _BY_STATUS.get(status, "Invalid")
        return cls(kind, message, status, retry_after)

    def as_error(self) -> dict[str, Any]:
        """The error as the execution receives it."""
        # `code` repeats the type under the name the executor records on a failed node run.
        error: dict[str, Any] = {
            "type": self.error_type,
            "code": self.error_type,
            "message": str(self),
            "retryable": self.transient,
        }
        if self.status is not None:
            error["status"] = self.status
        if self.retry_after is not None:
            error["retry_after_seconds"] = self.retry_after
        return error


@dataclass(frozen=True, slots=True)
class IntegrationCall:
    """One action on one integration, as an integration node asked for it."""

    integration: str
    action: str
    params: dict[str, Any]
    connection: str | None = None  # the node names its connection (id or name)

    @classmethod
    def of(cls, kind: str, request: dict[str, Any]) -> IntegrationCall:
        """Read a request; Invalid when it cannot be one."""
        integration = str(request.get("integration") or kind.removeprefix("integration."))
        action = request.get("action")
        if not isinstance(action, str) or not _ACTION.match(action):
            raise IntegrationError("Invalid", f"{integration}: {action!r} is not an action name")
        params = request.get("params") or {}
        if not isinstance(params, dict):
            raise IntegrationError("Invalid", f"{integration}: params must be an object")
        named = request.get("connection")
        return cls(integration, action, params, str(named) if named else None)


def echo(call: IntegrationCall) -> dict[str, Any]:
    """The `echo` mode's answer: what was asked, to try a workflow out."""
    return {"echo": call.params, "action": call.action}


def not_connected(call: IntegrationCall) -> IntegrationError:
    return IntegrationError(
        "NotConnected",
        f"integration {call.integration!r} is not connected for this tenant",
    )
