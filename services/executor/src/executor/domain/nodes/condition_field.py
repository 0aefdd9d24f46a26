"""A condition in a node's config, parsed once when the workflow version is compiled."""

from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator

from executor.domain.expressions import Condition, ConditionError


def parse_condition(raw: Any) -> Condition:
    if isinstance(raw, Condition):
        return raw
    if not isinstance(raw, dict | str):
        raise ValueError("a condition is a {left, operator, right} object or an expression string")
    try:
        return Condition.parse(raw)
    except ConditionError as error:
        raise ValueError(str(error)) from error


CompiledCondition = Annotated[
    Condition,
    PlainValidator(parse_condition, json_schema_input_type=dict[str, Any] | str),
    PlainSerializer(lambda condition: repr(condition), return_type=str),
]
