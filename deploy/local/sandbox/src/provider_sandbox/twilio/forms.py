"""Twilio's API takes application/x-www-form-urlencoded parameters, some repeatable (MediaUrl)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request


@dataclass(frozen=True)
class FormParams:
    pairs: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.pairs if key == name), None)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def __contains__(self, name: str) -> bool:
        return any(key == name for key, _ in self.pairs)


async def form_params(request: Request) -> FormParams:
    form = await request.form()
    return FormParams(tuple((k, v) for k, v in form.multi_items() if isinstance(v, str)))


def query_params(request: Request) -> dict[str, str]:
    return dict(request.query_params)
