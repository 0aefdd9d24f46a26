"""The Responses API (https://platform.openai.com/docs/api-reference/responses):
`POST /v1/responses` answered with a Response object (stored unless `store` is false), `GET
/v1/responses/{id}`, and `previous_response_id` continuing a stored one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import errors
from .answers import Conversation, answer
from .chat import prompt_tokens
from .formats import AnswerFormat, require_json_word, responses_format
from .ids import new_id
from .models import model_for
from .params import boolean, content_text, decimal, integer, mapping, model_of, only_known
from .state import OpenAIState
from .text import tokens, truncated

KNOWN = frozenset(
    """model input instructions temperature top_p max_output_tokens text stream store metadata
    previous_response_id tools tool_choice parallel_tool_calls reasoning user truncation include
    background service_tier top_logprobs max_tool_calls prompt prompt_cache_key
    prompt_cache_retention safety_identifier conversation stream_options""".split()  # noqa: SIM905 (a list, read as the reference lists them)
)
ITEM_TYPES = ("message", "function_call", "function_call_output", "reasoning")
ROLES = ("user", "assistant", "system", "developer")
PART_TYPES = ("input_text", "input_image", "input_file", "input_audio", "output_text", "refusal")
HEX = "0123456789abcdef"


def _content(value: Any, at: str) -> str:
    return content_text(value, at, PART_TYPES, ("input_text", "output_text"))


def turns_of(value: Any) -> list[tuple[str, str]]:
    """`input`: a string (one user message) or a list of input items."""
    if isinstance(value, str):
        return [("user", value)]
    if not isinstance(value, list):
        raise errors.invalid_type("input", "one of a string or array of input items", value)
    turns = []
    for i, item in enumerate(value):
        at = f"input[{i}]"
        item = mapping(item, at)
        kind = item.get("type", "message")
        if kind not in ITEM_TYPES:
            raise errors.invalid_value(f"{at}.type", kind, ITEM_TYPES)
        if kind == "function_call_output":
            turns.append(("tool", str(item.get("output", ""))))
        if kind != "message":
            continue
        role = item.get("role")
        if role is None:
            raise errors.missing(f"{at}.role")
        if role not in ROLES:
            raise errors.invalid_value(f"{at}.role", role, ROLES)
        if "content" not in item:
            raise errors.missing(f"{at}.content")
        turns.append((role, _content(item["content"], at)))
    return turns


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _history(state: OpenAIState, body: dict[str, Any]) -> list[tuple[str, str]]:
    previous = body.get("previous_response_id")
    if previous is None:
        return []
    if previous not in state.histories:
        raise errors.OpenAIError(
            400,
            f"Previous response with id '{previous}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return state.histories[previous]


async def create(state: OpenAIState, body: dict[str, Any]) -> dict[str, Any]:
    only_known(body, KNOWN)
    model = model_for(model_of(body), "chat", "v1/responses")
    if body.get("input") is None and body.get("previous_response_id") is None:
        raise errors.missing("input")
    given = turns_of(body["input"]) if body.get("input") is not None else []
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise errors.invalid_type("instructions", "a string", instructions)
    temperature = decimal(body, "temperature", 0, 2)
    top_p = decimal(body, "top_p", 0, 1)
    limit = integer(body, "max_output_tokens", 16)
    if boolean(body, "stream"):
        raise errors.bad_request(
            "The sandbox does not stream the Responses API: send 'stream': false (or omit it).",
            param="stream",
            code="unsupported_value",
        )
    form = responses_format(body.get("text"))
    history = [*_history(state, body), *given]
    turns = [("developer", instructions)] if instructions else []
    turns += history
    require_json_word(form, [text for _, text in turns], "input")
    conversation = Conversation(tuple(turns))
    if conversation.delay_ms:
        await asyncio.sleep(conversation.delay_ms / 1000)

    text = answer(conversation, form)
    status, incomplete = "completed", None
    if limit is not None and tokens(text) > limit:
        text, status = truncated(text, limit), "incomplete"
        incomplete = {"reason": "max_output_tokens"}
    response = _response(body, model.snapshot, form, text, status)
    response["incomplete_details"] = incomplete
    response["temperature"] = 1.0 if temperature is None else temperature
    response["top_p"] = 1.0 if top_p is None else top_p
    response["usage"] = _usage(prompt_tokens(turns), tokens(text))
    if body.get("store", True) is not False:
        state.store(response, [*history, ("assistant", text)])
    return response


def _response(
    body: dict[str, Any], snapshot: str, form: AnswerFormat, text: str, status: str
) -> dict[str, Any]:
    message = {
        "type": "message",
        "id": new_id("msg_", 48, HEX),
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }
    return {
        "id": new_id("resp_", 48, HEX),
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": snapshot,
        "output": [message],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True) is not False,
        "text": {"format": form.described(), "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "top_logprobs": body.get("top_logprobs", 0),
        "truncation": body.get("truncation", "disabled"),
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def stored(state: OpenAIState, response_id: str) -> dict[str, Any]:
    found = state.responses.get(response_id)
    if found is None:
        raise errors.OpenAIError(
            404, f"Response with id '{response_id}' not found.", param="response_id"
        )
    return found
