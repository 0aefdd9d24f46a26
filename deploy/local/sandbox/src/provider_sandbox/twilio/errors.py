"""Twilio's error answers: `{code, message, more_info, status}` with the HTTP status."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse


class TwilioApiError(Exception):
    """An answer the Twilio REST API gives instead of a resource."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        if self.detail is not None:
            body["detail"] = self.detail
        return body


async def twilio_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TwilioApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def not_found(path: str) -> TwilioApiError:
    return TwilioApiError(404, 20404, f"The requested resource {path} was not found")


def bad_request(code: int, message: str) -> TwilioApiError:
    return TwilioApiError(400, code, message)
