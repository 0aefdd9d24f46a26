"""What an integration request asks for, the tenant's connection that answers it, and the
errors a workflow sees. Pure: no I/O here.

The executor's integration nodes request `{integration, action, params, outputVariable}`; the
tenant's connection for `integration` (stored by the gateway) says how it is answered:

- `echo`: `{"echo": params, "action": action}`, without calling anything;
- `http`: `POST {base_url}/{action}` with `{action, params, idempotency_key}`; the answer's JSON
  object is the result.

Errors are `{type, code, message}` (`code` = `type`; plus `status` for an HTTP answer). The
types a workflow can route on or name in a retry policy's non-retryable list:

- `IntegrationNotConnected`: the tenant has no connection for that integration;
- `IntegrationRejected`: the system said no (HTTP 4xx) or the request is malformed: retrying
  the same request cannot help;
- `IntegrationUnavailable`: HTTP 5xx, a timeout, no connection: a retry later may work;
- `IntegrationBadResponse`: a 2xx answer that is not JSON, or too large to carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_ACTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class IntegrationError(Exception):
    """An operation failed in a way the workflow should see (not a crash of this service)."""

    def __init__(self, error_type: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.status = status

    def as_error(self) -> dict[str, Any]:
        """The error as the execution receives it."""
        # `code` repeats the type under the name the executor records on a failed node run.
        error: dict[str, Any] = {
            "type": self.error_type,
            "code": self.error_type,
            "message": str(self),
        }
        if self.status is not None:
            error["status"] = self.status
        return error


@dataclass(frozen=True, slots=True)
class IntegrationCall:
    """One action on one integration, as an integration node asked for it."""

    integration: str
    action: str
    params: dict[str, Any]

    @classmethod
    def of(cls, kind: str, request: dict[str, Any]) -> IntegrationCall:
        """Read a request; IntegrationRejected when it cannot be one."""
        integration = str(request.get("integration") or kind.removeprefix("integration."))
        action = request.get("action")
        if not isinstance(action, str) or not _ACTION.match(action):
            raise IntegrationError(
                "IntegrationRejected", f"{integration}: {action!r} is not an action name"
            )
        params = request.get("params") or {}
        if not isinstance(params, dict):
            raise IntegrationError(
                "IntegrationRejected", f"{integration}: params must be an object"
            )
        return cls(integration, action, params)


class Connection(BaseModel):
    """A tenant's connection to one integration (the `integrations` collection)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    mode: Literal["echo", "http"]
    base_url: str | None = None
    timeout_seconds: float = Field(10, gt=0)


def echo(call: IntegrationCall) -> dict[str, Any]:
    """The `echo` mode's answer: what was asked, to try a workflow out."""
    return {"echo": call.params, "action": call.action}


def not_connected(call: IntegrationCall) -> IntegrationError:
    return IntegrationError(
        "IntegrationNotConnected",
        f"integration {call.integration!r} is not connected for this tenant",
    )
