"""OpenAI's error answers: `{"error": {"message", "type", "param", "code"}}` with the status and
wording the API uses (https://platform.openai.com/docs/guides/error-codes)."""

from __future__ import annotations

from typing import Any

API_KEYS_URL = "https://platform.openai.com/account/api-keys"
RATE_LIMITS_URL = "https://platform.openai.com/account/rate-limits"
JSON_HINT = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using"
    " your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was"
    " not valid JSON. If you have trouble figuring out how to fix this, please contact us"
    " through our help center at help.openai.com.)"
)
NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header"
    " using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with"
    " blank username) if you're accessing the API from your browser and are prompted for a"
    " username and password. You can obtain an API key from " + API_KEYS_URL + "."
)


class OpenAIError(Exception):
    """An answer the API refuses with: its status, error body and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.type, "param": self.param}
        return {"error": {**error, "code": self.code}}


def masked(key: str) -> str:
    """A key as OpenAI quotes it back: its first 8 and last 4 characters, stars between."""
    if len(key) <= 12:
        return key[:3] + "*" * max(0, len(key) - 3)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def missing_key() -> OpenAIError:
    return OpenAIError(401, NO_KEY)


def incorrect_key(key: str) -> OpenAIError:
    message = f"Incorrect API key provided: {masked(key)}. You can find your API key at "
    return OpenAIError(401, message + API_KEYS_URL + ".", code="invalid_api_key")


def model_not_found(model: str) -> OpenAIError:
    message = f"The model `{model}` does not exist or you do not have access to it."
    return OpenAIError(404, message, code="model_not_found")


def missing(param: str) -> OpenAIError:
    return OpenAIError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def invalid_value(param: str, value: Any, supported: tuple[str, ...]) -> OpenAIError:
    quoted = [f"'{s}'" for s in supported]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
    if len(quoted) == 2:
        listed = f"{quoted[0]} and {quoted[1]}"
    message = f"Invalid value: '{value}'. Supported values are: {listed}."
    return OpenAIError(400, message, param=param, code="invalid_value")


def invalid_type(param: str, expected: str, value: Any) -> OpenAIError:
    message = (
        f"Invalid type for '{param}': expected {expected}, but got {json_kind(value)} instead."
    )
    return OpenAIError(400, message, param=param, code="invalid_type")


def out_of_range(param: str, value: float, bound: float, kind: str, above: bool) -> OpenAIError:
    """`kind` is "decimal" or "integer", as OpenAI names the parameter's type."""
    side, sign = ("above maximum", "<=") if above else ("below minimum", ">=")
    shown = int(value) if float(value).is_integer() else value
    edge = int(bound) if float(bound).is_integer() else bound
    message = (
        f"Invalid '{param}': {kind} {side} value. Expected a value {sign} {edge}, but got"
        f" {shown} instead."
    )
    code = f"{kind}_{'above_max' if above else 'below_min'}_value"
    return OpenAIError(400, message, param=param, code=code)


def bad_request(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def json_kind(value: Any) -> str:
    """How OpenAI names a JSON value's type in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
