"""Property tests: no input crashes the resolver or the evaluator, and both agree with simple,
independently written reference implementations of the documented rules."""

from __future__ import annotations

import json
import re
from typing import Any

from executor.domain.expressions import (
    MISSING,
    OPERATORS,
    Condition,
    ConditionError,
    Template,
    get_path,
    set_path,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

# Per-example deadlines turn a loaded CI machine into flaky failures; the suite's timeout stays.
NO_DEADLINE = settings(deadline=None)
SCOPES = ("workflow", "conversation", "global")
KEYS = st.sampled_from(["a", "b", "0", "1", "name", "items", "type", "source", "x y"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=8),
    st.integers(-1000, 1000).map(str),
    st.floats(-1e4, 1e4, allow_nan=False).map(repr),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=6,
)
CONTEXTS = st.fixed_dictionaries(
    {
        "execution": st.dictionaries(KEYS, JSON, max_size=2),
        "trigger": st.fixed_dictionaries(
            {"type": st.text(max_size=5), "source": st.dictionaries(KEYS, JSON, max_size=3) | JSON}
        ),
        "variables": st.fixed_dictionaries(
            {scope: st.dictionaries(KEYS, JSON, max_size=3) for scope in SCOPES}
        ),
        "customer": st.none() | st.dictionaries(KEYS, JSON, max_size=3),
        "resources": st.dictionaries(KEYS, JSON, max_size=2),
    }
)
ANY_CONTEXT = CONTEXTS | st.dictionaries(st.text(max_size=10), JSON, max_size=4)
ROOTS = st.sampled_from(
    ["execution", "trigger", "variables", "customer", "resources", *SCOPES, "other"]
)
SEGMENTS = st.lists(st.one_of(KEYS, st.integers(-3, 3)), max_size=4)

# --- a reference resolver, written from the package docstring, not from the code ----------


class Quoted(str):
    """A key written `["..."]`: a mapping key only, never a list index (the documented rule:
    an index reads a list element, a quoted key only an object's key)."""


def quoted(segments: list[str | int], brackets: list[bool]) -> list[str | int]:
    """The segments as ``spell`` writes them: a bracketed string is a quoted key."""
    flags = brackets + [False] * len(segments)
    return [
        Quoted(s) if b and isinstance(s, str) else s for s, b in zip(segments, flags, strict=False)
    ]


def ref_step(node: Any, segment: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(str(segment), MISSING)
    if isinstance(node, list) and isinstance(segment, Quoted):
        return MISSING
    if isinstance(node, list) and isinstance(segment, int):
        return node[segment] if -len(node) <= segment < len(node) else MISSING
    if isinstance(node, list) and re.fullmatch(r"-?(0|[1-9][0-9]*)", str(segment)):
        return ref_step(node, int(str(segment)))
    return MISSING


def ref_walk(node: Any, segments: list[str | int]) -> Any:
    for segment in segments:
        node = ref_step(node, segment)
        if node is MISSING:
            return MISSING
    return node


def ref_get(ctx: dict[str, Any], root: str, segments: list[str | int]) -> Any:
    if root in SCOPES:
        return ref_walk(ctx.get("variables", {}).get(root, MISSING), segments)
    if root == "trigger" and segments:
        trigger = ctx.get("trigger", {})
        from_payload = ref_walk(trigger.get("source"), segments[:1])
        if from_payload is not MISSING:
            return ref_walk(from_payload, segments[1:])
        if segments[0] in ("type", "source"):
            return ref_walk(trigger, segments)
        return MISSING
    if root == "trigger":
        return get_path(ctx, "trigger")  # the merged view is checked in test_variable_paths
    return ref_walk(ctx.get(root, MISSING), segments)


def spell(root: str, segments: list[str | int], brackets: list[bool]) -> str:
    text = root
    for segment, bracket in zip(segments, brackets + [False] * len(segments), strict=False):
        if bracket:
            text += f"[{segment}]" if isinstance(segment, int) else f'["{segment}"]'
        else:
            text += f".{segment}"
    return text


@given(ctx=CONTEXTS, root=ROOTS, segments=SEGMENTS, brackets=st.lists(st.booleans()))
@NO_DEADLINE
def test_get_path_agrees_with_the_reference(
    ctx: dict[str, Any], root: str, segments: list[str | int], brackets: list[bool]
) -> None:
    assume(all(" " not in str(s) or b for s, b in zip(segments, brackets, strict=False)))
    path = spell(root, segments, brackets)
    expected = ref_get(ctx, root, quoted(segments, brackets))
    actual = get_path(ctx, path)
    assert actual is MISSING if expected is MISSING else actual == expected, path


@given(ctx=CONTEXTS, root=ROOTS, depth=st.integers(0, 5), data=st.data())
@settings(max_examples=300, deadline=None)
def test_existing_paths_read_their_value(
    ctx: dict[str, Any], root: str, depth: int, data: Any
) -> None:
    """Walk the context itself so every drawn path exists (random paths mostly miss)."""
    node = ref_get(ctx, root, [])
    segments: list[str | int] = []
    while isinstance(node, dict | list) and node and len(segments) < depth:
        if isinstance(node, dict):
            key = data.draw(st.sampled_from(sorted(node)))
            segments.append(key)
        else:
            segments.append(data.draw(st.integers(-len(node), len(node) - 1)))
        node = ref_step(node, segments[-1])
    assume(node is not MISSING)
    brackets = [isinstance(s, int) or " " in s for s in segments]
    path = spell(root, segments, brackets)
    assert get_path(ctx, path) == ref_get(ctx, root, segments), path


@given(ctx=ANY_CONTEXT, path=st.text(max_size=30))
@NO_DEADLINE
def test_get_path_never_raises(ctx: dict[str, Any], path: str) -> None:
    get_path(ctx, path)


@given(ctx=CONTEXTS, scope=st.sampled_from(SCOPES), keys=st.lists(KEYS, min_size=1, max_size=4))
@NO_DEADLINE
def test_set_then_get_round_trips(ctx: dict[str, Any], scope: str, keys: list[str]) -> None:
    path = ".".join([scope, *[f"{key}" for key in keys]])
    assume(all(" " not in key for key in keys))
    try:
        set_path(ctx, path, {"marker": 1})
    except ValueError as error:
        refusal = str(error)
    else:
        assert get_path(ctx, path) == {"marker": 1}
        return
    assert repr(path) in refusal  # refused (through a scalar or a list), naming the path


# --- templates -------------------------------------------------------------------------------


def ref_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


@given(ctx=ANY_CONTEXT, text=st.text(max_size=40))
@NO_DEADLINE
def test_rendering_arbitrary_text_never_raises(ctx: dict[str, Any], text: str) -> None:
    rendered = Template.compile(text).render(ctx)
    if "{{" not in text:
        assert rendered.value == text
        assert rendered.missing == ()


@given(value=JSON, before=st.text(alphabet="ab .", max_size=3))
@NO_DEADLINE
def test_text_form_agrees_with_the_reference(value: Any, before: str) -> None:
    ctx = {"variables": {"workflow": {"v": value}}}
    rendered = Template.compile(before + "{{workflow.v}}!").render(ctx)
    assert rendered == type(rendered)(before + ref_text(value) + "!", ())


@given(
    ctx=CONTEXTS,
    pieces=st.lists(
        st.one_of(
            st.text(alphabet="ab {}.", max_size=5).filter(lambda t: "{" not in t and "}" not in t),
            st.tuples(ROOTS, st.lists(KEYS.filter(lambda k: " " not in k), max_size=3)),
        ),
        max_size=5,
    ),
)
@settings(suppress_health_check=[HealthCheck.filter_too_much], deadline=None)
def test_interpolation_agrees_with_the_reference(
    ctx: dict[str, Any], pieces: list[str | tuple[str, list[str]]]
) -> None:
    text, expected, missing = "", "", []
    for piece in pieces:
        if isinstance(piece, str):
            text += piece
            expected += piece
            continue
        path = ".".join([piece[0], *piece[1]])
        value = ref_get(ctx, piece[0], list(piece[1]))
        text += "{{ " + path + " }}"
        if value is MISSING:
            expected += "{{ " + path + " }}"
            missing.append(path)
        else:
            expected += ref_text(value)
    assume(not re.fullmatch(r"\{\{[^{}]*\}\}", text))  # a lone placeholder keeps its type
    rendered = Template.compile(text).render(ctx)
    assert rendered.value == expected
    assert rendered.missing == tuple(dict.fromkeys(missing))


# --- conditions ------------------------------------------------------------------------------


def ref_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and value.strip(" \t\n\r") not in ("NaN", "Infinity", "-Infinity"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, int | float) and not isinstance(parsed, bool) else None
    return None


def ref_equal(left: Any, right: Any) -> bool:
    absent = (None, MISSING)
    if left in absent or right in absent:
        return left in absent and right in absent
    if isinstance(left, bool) and isinstance(right, bool):
        return left == right
    if isinstance(left, bool) or isinstance(right, bool):
        flag, other = (left, right) if isinstance(left, bool) else (right, left)
        return isinstance(other, str) and other.strip().lower() == str(flag).lower()
    if ref_number(left) is not None and ref_number(right) is not None:
        return ref_number(left) == ref_number(right)
    return isinstance(left, str) and isinstance(right, str) and left == right


def ref_compare(left: Any, operator: str, right: Any) -> bool:
    if operator == "==":
        return ref_equal(left, right)
    if operator == "!=":
        return not ref_equal(left, right)
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    a, b = ref_number(left), ref_number(right)
    if a is None or b is None:
        if not (isinstance(left, str) and isinstance(right, str)):
            return False
        a, b = left, right
    return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[operator]


@given(
    left=SCALARS | st.just(MISSING),
    right=SCALARS | st.just(MISSING),
    operator=st.sampled_from(["==", "!=", ">", "<", ">=", "<="]),
)
@settings(max_examples=500, deadline=None)
def test_comparisons_agree_with_the_reference(left: Any, operator: str, right: Any) -> None:
    workflow = {name: value for name, value in (("l", left), ("r", right)) if value is not MISSING}
    ctx = {"variables": {"workflow": workflow}}
    condition = Condition.parse({"left": "workflow.l", "operator": operator, "right": "workflow.r"})
    assert condition.evaluate(ctx) is ref_compare(left, operator, right)


@given(
    ctx=ANY_CONTEXT,
    left=JSON | st.text(alphabet="{}$.[]aw0 ", max_size=12),
    right=JSON | st.text(alphabet="{}$.[]aw0 ,()+*", max_size=12),
    operator=st.sampled_from(OPERATORS) | st.text(max_size=6),
    extra=st.dictionaries(st.sampled_from(["negate", "logicalOp", "next"]), JSON, max_size=2),
)
@NO_DEADLINE
def test_structured_conditions_never_crash(
    ctx: dict[str, Any], left: Any, right: Any, operator: str, extra: dict[str, Any]
) -> None:
    try:
        condition = Condition.parse({"left": left, "operator": operator, "right": right, **extra})
    except ConditionError:
        return
    assert condition.evaluate(ctx) in (True, False)


@given(ctx=ANY_CONTEXT, pattern=st.text(alphabet="a()+*?|^$.\\[]{}1,", max_size=12))
@NO_DEADLINE
def test_matches_with_any_pattern_never_crashes(ctx: dict[str, Any], pattern: str) -> None:
    ctx = {**ctx, "variables": {"workflow": {"t": "a" * 50 + "b", "p": pattern}}}
    for right in (pattern, "workflow.p"):
        try:
            condition = Condition.parse(
                {"left": "workflow.t", "operator": "matches", "right": right}
            )
        except ConditionError:
            continue
        assert condition.evaluate(ctx) in (True, False)


CEL_CONTEXT: dict[str, Any] = {
    "trigger": {"type": "t", "source": {"text": "x", "n": 1, "items": [1, {"a": None}]}},
    "variables": {"workflow": {"a": 1, "b": "s", "c": [1, 2]}, "conversation": {}, "global": {}},
    "customer": None,
}
CEL_TOKENS = st.sampled_from(
    ["workflow", "trigger", "customer", ".", "a", "text", "items", "size()", "has(", "(", ")",
     "[", "]", "0", "1.5", '"x"', "'y'", "==", "!=", "<", "&&", "||", "!", "+", "-", "/", "%",
     "in", ",", "?", ":", "null", "true", "{", "}", ".all(", "v", ".exists(", "matches(", " "]
)  # fmt: skip


@given(
    source=st.lists(CEL_TOKENS, max_size=12).map("".join)
    | st.text(alphabet="wt.()[]\"' =!<>&|+-*/%01,:?{}", max_size=30)
)
@settings(max_examples=300, deadline=None)
def test_expression_strings_never_crash(source: str) -> None:
    try:
        condition = Condition.parse(source)
    except ConditionError:
        return
    assert condition.evaluate(CEL_CONTEXT) in (True, False)


@given(
    ctx=CONTEXTS, left=ROOTS, keys=st.lists(KEYS.filter(str.isidentifier), min_size=1, max_size=3)
)
@NO_DEADLINE
def test_cel_reads_paths_like_the_resolver(ctx: dict[str, Any], left: str, keys: list[str]) -> None:
    assume(left not in ("other",))
    path = ".".join([left, *keys])
    value = get_path(ctx, path)
    condition = Condition.parse(f"{path} == {path}")
    # An absent path is an error, hence false; a present one equals itself unless CEL has no
    # equality for it (null is equal to null; CEL's double NaN never arises from JSON).
    assert condition.evaluate(ctx) is (value is not MISSING)


def ref_text_operator(left: Any, operator: str, right: Any) -> bool:
    def text(value: Any) -> str | None:
        if value is None or value is MISSING or isinstance(value, dict | list):
            return None
        return ref_text(value)

    if operator == "is_empty":
        return left in (None, MISSING, "") or (isinstance(left, list | dict) and not left)
    if operator == "exists":
        return left is not MISSING
    if operator in ("in", "not_in"):
        if right is None or right is MISSING:
            members: list[Any] = []
        elif isinstance(right, str):
            members = [item.strip() for item in right.split(",")]
        else:
            members = right if isinstance(right, list) else [right]
        found = any(ref_equal(left, member) for member in members)
        return found if operator == "in" else not found
    if operator == "contains" and isinstance(left, list):
        return right not in (None, MISSING) and any(ref_equal(item, right) for item in left)
    a, b = text(left), text(right)
    if a is None or b is None:
        return False
    return {"contains": b in a, "starts_with": a.startswith(b), "ends_with": a.endswith(b)}[
        operator
    ]


@given(
    left=SCALARS | st.just(MISSING) | st.lists(SCALARS, max_size=3),
    right=SCALARS | st.just(MISSING) | st.lists(SCALARS, max_size=3),
    operator=st.sampled_from(
        ["contains", "starts_with", "ends_with", "in", "not_in", "is_empty", "exists"]
    ),
)
@settings(max_examples=500, deadline=None)
def test_text_and_membership_agree_with_the_reference(left: Any, operator: str, right: Any) -> None:
    workflow = {name: value for name, value in (("l", left), ("r", right)) if value is not MISSING}
    ctx = {"variables": {"workflow": workflow}}
    condition = Condition.parse({"left": "workflow.l", "operator": operator, "right": "workflow.r"})
    assert condition.evaluate(ctx) is ref_text_operator(left, operator, right)
