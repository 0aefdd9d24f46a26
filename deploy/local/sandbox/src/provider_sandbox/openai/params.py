"""Reading a request body's parameters as OpenAI checks them, each refusal naming its `param`."""

from __future__ import annotations

import json
from typing import Any

from . import errors
from .errors import OpenAIError


def parsed_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise errors.bad_request(errors.JSON_HINT) from None
    if not isinstance(body, dict):
        raise errors.bad_request(errors.JSON_HINT)
    return body


def only_known(body: dict[str, Any], known: frozenset[str]) -> None:
    for name in body:
        if name not in known:
            raise errors.bad_request(f"Unrecognized request argument supplied: {name}")


def model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None or model == "":
        raise errors.bad_request("you must provide a model parameter")
    if not isinstance(model, str):
        raise errors.invalid_type("model", "a string", model)
    return model


def decimal(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.invalid_type(name, "a decimal", value)
    if value < low or value > high:
        above = value > high
        raise errors.out_of_range(name, value, high if above else low, "decimal", above)
    return float(value)


def integer(body: dict[str, Any], name: str, low: int, high: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.invalid_type(name, "an integer", value)
    if value < low:
        raise errors.out_of_range(name, value, low, "integer", above=False)
    if high is not None and value > high:
        raise errors.out_of_range(name, value, high, "integer", above=True)
    return value


def boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise errors.invalid_type(name, "a boolean", value)
    return value


def mapping(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.invalid_type(param, "an object", value)
    return value


def text_of(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise errors.invalid_type(param, "a string", value)
    return value


def content_text(
    value: Any, at: str, part_types: tuple[str, ...], text_types: tuple[str, ...]
) -> str:
    """A message's ``content`` (at ``at``): a string, or an array of typed parts whose text
    parts (``text_types``) are joined; each part checked as the endpoint checks it."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise errors.invalid_type(f"{at}.content", "one of a string or array of objects", value)
    texts = []
    for j, part in enumerate(value):
        part = mapping(part, f"{at}.content[{j}]")
        kind = part.get("type")
        if kind is None:
            raise errors.missing(f"{at}.content[{j}].type")
        if kind not in part_types:
            raise errors.invalid_value(f"{at}.content[{j}].type", kind, part_types)
        if kind in text_types:
            if not isinstance(part.get("text"), str):
                raise errors.missing(f"{at}.content[{j}].text")
            texts.append(part["text"])
    return "\n".join(texts)


def stops(body: dict[str, Any]) -> list[str]:
    value = body.get("stop")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise errors.invalid_type("stop", "one of a string or array of strings", value)
    if len(value) > 4:
        raise OpenAIError(
            400,
            f"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an"
            f" array with length {len(value)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    return list(value)
