"""The answer format a request asks for: chat's `response_format`, the Responses API's
`text.format`; both `text`, `json_object` or `json_schema` (name, schema, strict)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import errors
from .params import mapping
from .structured import check_strict

FORMATS = ("json_object", "json_schema", "text")
SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True)
class AnswerFormat:
    type: str = "text"
    name: str = ""
    schema: dict[str, Any] | None = None
    strict: bool = False

    def described(self) -> dict[str, Any]:
        """As the Responses API echoes `text.format`."""
        if self.type != "json_schema":
            return {"type": self.type}
        return {
            "type": "json_schema",
            "name": self.name,
            "schema": self.schema,
            "strict": self.strict,
            "description": None,
        }


def _schema_format(spec: dict[str, Any], param: str) -> AnswerFormat:
    """`spec` holds name, schema, strict; `param` is where it sits in the body."""
    name = spec.get("name")
    if name is None:
        raise errors.missing(f"{param}.name")
    if not isinstance(name, str) or not SCHEMA_NAME.match(name):
        raise errors.OpenAIError(
            400,
            f"Invalid '{param}.name': string does not match pattern. Expected a string that"
            " matches the pattern '^[a-zA-Z0-9_-]+$'.",
            param=f"{param}.name",
            code="invalid_value",
        )
    schema = mapping(spec.get("schema", {"type": "object", "properties": {}}), f"{param}.schema")
    strict = spec.get("strict") or False
    if not isinstance(strict, bool):
        raise errors.invalid_type(f"{param}.strict", "a boolean", strict)
    if strict:
        check_strict(schema, name, param.split(".")[0])
    return AnswerFormat("json_schema", name, schema, strict)


def chat_format(value: Any) -> AnswerFormat:
    """Chat's `response_format`: `{type, json_schema: {name, schema, strict}}`."""
    if value is None:
        return AnswerFormat()
    spec = mapping(value, "response_format")
    kind = spec.get("type")
    if kind is None:
        raise errors.missing("response_format.type")
    if kind not in FORMATS:
        raise errors.invalid_value("response_format.type", kind, FORMATS)
    if kind != "json_schema":
        return AnswerFormat(kind)
    if spec.get("json_schema") is None:
        raise errors.missing("response_format.json_schema")
    inner = mapping(spec["json_schema"], "response_format.json_schema")
    return _schema_format(inner, "response_format.json_schema")


def responses_format(text: Any) -> AnswerFormat:
    """The Responses API's `text: {format: {type, name, schema, strict}}`."""
    if text is None:
        return AnswerFormat()
    spec = mapping(text, "text")
    if spec.get("format") is None:
        return AnswerFormat()
    form = mapping(spec["format"], "text.format")
    kind = form.get("type")
    if kind is None:
        raise errors.missing("text.format.type")
    if kind not in FORMATS:
        raise errors.invalid_value("text.format.type", kind, FORMATS)
    if kind != "json_schema":
        return AnswerFormat(kind)
    return _schema_format(form, "text.format")


def require_json_word(form: AnswerFormat, texts: list[str], param: str) -> None:
    """OpenAI's JSON mode refuses a conversation that never says "json"."""
    if form.type == "json_object" and not any("json" in t.lower() for t in texts):
        raise errors.bad_request(
            f"'{param}' must contain the word 'json' in some form, to use 'response_format' of"
            " type 'json_object'.",
            param=param,
        )
