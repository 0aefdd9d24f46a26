"""Built-in operations. Provider integrations (Shopify, Stripe, ...) plug in here later; until a
tenant's provider is connected, a request answers with an error the workflow can route on."""

from __future__ import annotations

from typing import Any


class IntegrationError(Exception):
    """An operation failed in a way the workflow should see (not a crash of this service)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def perform(kind: str, request: dict[str, Any]) -> dict[str, Any]:
    """Run a built-in operation; IntegrationError when it cannot be done."""
    integration = str(request.get("integration") or kind.removeprefix("integration."))
    if integration == "echo":
        return {"echo": request.get("params", {})}
    raise IntegrationError(
        "IntegrationNotConnected", f"integration {integration!r} is not connected for this tenant"
    )
