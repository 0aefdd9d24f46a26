"""SendGrid's error answers: ``{"errors": [{"message", "field", "help"}]}``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse

HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


@dataclass(frozen=True)
class Problem:
    message: str
    field: str | None = None
    help: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"message": self.message, "field": self.field, "help": self.help}


class SendGridApiError(Exception):
    def __init__(
        self, status: int, problems: list[Problem], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, problems[0].message if problems else "")
        self.status = status
        self.problems = problems
        self.headers = headers or {}


async def sendgrid_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SendGridApiError)
    body = {"errors": [p.to_json() for p in exc.problems]}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def unauthorized(message: str) -> SendGridApiError:
    return SendGridApiError(401, [Problem(message)])
