"""Structured outputs: a JSON value valid against the caller's schema, filled from the last user
message, and the checks `strict: true` makes of a schema (OpenAI's supported subset:
https://platform.openai.com/docs/guides/structured-outputs#supported-schemas).

Strings take the value written after their name (`order id: 1042`, `email is a@b.c`, up to the
end of the sentence, a comma or an "and"), else for
email-, order-, number- and phone-like names the first such value in the message; a property
named like an answer (answer, reply, response, text, message, summary) takes the text answer;
else "". Numbers take the number after their name or the first in the message, else 0;
booleans true only when written so (`urgent: yes`); an enum the value the message mentions,
else its first; arrays their `minItems` items (none by default); objects every property."""

from __future__ import annotations

import re
from typing import Any

from .errors import OpenAIError

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
PHONE = re.compile(r"\+?\d[\d ().-]{6,}\d")
ORDER_LIKE = ("order", "number", "id", "count", "quantity", "amount")
ANSWER_LIKE = ("answer", "reply", "response", "text", "message", "summary", "content")
TRUE_WORDS = ("true", "yes", "y", "1")


def _named(name: str, text: str) -> str | None:
    """The value written after `name` (`name: value`, `name is value`, `name = value`)."""
    spelled = r"[\s_-]*".join(re.escape(part) for part in re.split(r"[\s_-]+", name) if part)
    if not spelled:
        return None
    value = r"[\"']?([^\n\"';,]*?)[\"']?\s*(?:[.;,!?](?:\s|$)|\s+(?:and|but|so)\b|\n|$)"
    pattern = rf"\b{spelled}\b\s*(?::|=|\bis\b)\s*{value}"
    found = re.search(pattern, text, re.IGNORECASE)
    return found.group(1).strip() if found and found.group(1).strip() else None


def _string(name: str, text: str, answer: str) -> str:
    lowered = name.lower()
    if "email" in lowered:
        written = EMAIL.search(_named(name, text) or "") or EMAIL.search(text)
        return written.group(0) if written else ""
    if (value := _named(name, text)) is not None:
        return value
    if "phone" in lowered:
        phone = PHONE.search(text)
        return phone.group(0) if phone else ""
    if any(part in lowered for part in ORDER_LIKE):
        number = NUMBER.search(text)
        return number.group(0) if number else ""
    if any(part in lowered for part in ANSWER_LIKE):
        return answer
    return ""


def _number(name: str, text: str) -> float:
    written = NUMBER.search(_named(name, text) or "") or NUMBER.search(text)
    return float(written.group(0)) if written else 0.0


def _enum(options: list[Any], text: str) -> Any:
    for option in options:
        if isinstance(option, str) and re.search(rf"\b{re.escape(option)}\b", text, re.I):
            return option
    return options[0] if options else None


def _resolved(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    while isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        schema = target if isinstance(target, dict) else {}
        ref = schema.get("$ref")
    return schema


def _value(schema: dict[str, Any], root: dict[str, Any], name: str, text: str, answer: str) -> Any:
    schema = _resolved(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list):
        return _enum(schema["enum"], text)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(branches, list) and branches:
        usable = [b for b in branches if isinstance(b, dict) and b.get("type") != "null"]
        return _value((usable or branches)[0], root, name, text, answer)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: _value(sub, root, key, text, answer) for key, sub in properties.items()}
    if kind == "array":
        items = schema.get("items")
        items = items if isinstance(items, dict) else {}
        count = int(schema.get("minItems", 0))
        return [_value(items, root, name, text, answer) for _ in range(count)]
    if kind == "string":
        return _string(name, text, answer)
    if kind in ("number", "integer"):
        number = _number(name, text)
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return (_named(name, text) or "").lower() in TRUE_WORDS
    return None


def filled(schema: dict[str, Any], text: str, answer: str) -> Any:
    """A value valid against `schema`, from the message `text`."""
    return _value(schema, schema, "", text, answer)


def check_strict(schema: dict[str, Any], name: str, param: str) -> None:
    """What OpenAI refuses in a strict schema: an object without `additionalProperties: false`,
    or one whose `required` does not list every property."""
    _check(schema, name, param, ())


def _check(schema: Any, name: str, param: str, at: tuple[str, ...]) -> None:
    if not isinstance(schema, dict):
        return
    context = "(" + ", ".join(f"'{p}'" for p in at) + ")"
    if schema.get("type") == "object" or "properties" in schema:
        prefix = f"Invalid schema for response_format '{name}': In context={context}, "
        if schema.get("additionalProperties") is not False:
            raise OpenAIError(
                400,
                prefix + "'additionalProperties' is required to be supplied and to be false.",
                param=param,
                code="invalid_json_schema",
            )
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        absent = [key for key in properties if key not in required]
        if absent:
            raise OpenAIError(
                400,
                prefix + "'required' is required to be supplied and to be an array including"
                f" every key in properties. Missing '{absent[0]}'.",
                param=param,
                code="invalid_json_schema",
            )
        for key, sub in properties.items():
            _check(sub, name, param, (*at, "properties", key))
    for keyword in ("items",):
        _check(schema.get(keyword), name, param, (*at, keyword))
    for keyword in ("anyOf", "$defs", "definitions"):
        group = schema.get(keyword)
        subs = group.items() if isinstance(group, dict) else enumerate(group or [])
        for key, sub in subs:
            _check(sub, name, param, (*at, keyword, str(key)))
