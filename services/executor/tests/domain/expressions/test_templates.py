"""`{{ path }}` templates: interpolation, type keeping, missing paths, text form, caching."""

from __future__ import annotations

from typing import Any

import pytest
from executor.domain.expressions import Rendered, Template


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {
        "execution": {"id": "ex-1"},
        "trigger": {"type": "Order Created", "source": {"orderId": 1001, "items": [{"sku": "A"}]}},
        "variables": {
            "workflow": {
                "count": 5,
                "price": 49.99,
                "total": 100.0,
                "big": 1e20,
                "flag": True,
                "off": False,
                "nothing": None,
                "draft": {"to": "ada@example.com", "tags": ["x"]},
                "text": "hi",
            },
            "conversation": {},
            "global": {},
        },
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "resources": {},
    }


def render(value: Any, ctx: dict[str, Any]) -> Rendered:
    return Template.compile(value).render(ctx)


@pytest.mark.parametrize(
    "text",
    ["Hi {{customer.name}}!", "Hi {{ customer.name }}!", "Hi {{\tcustomer.name\n}}!"],
)
def test_whitespace_inside_braces_is_tolerated(ctx: dict[str, Any], text: str) -> None:
    assert render(text, ctx) == Rendered("Hi Ada!", ())


def test_every_string_of_nested_values_is_interpolated(ctx: dict[str, Any]) -> None:
    config = {
        "to": "{{customer.email}}",
        "subject": "Order {{trigger.orderId}}",
        "lines": ["Dear {{customer.name}}", {"deep": ["{{workflow.text}} there"]}],
        "retries": 3,
        "enabled": True,
        "extra": None,
    }
    assert render(config, ctx).value == {
        "to": "ada@example.com",
        "subject": "Order 1001",
        "lines": ["Dear Ada", {"deep": ["hi there"]}],
        "retries": 3,
        "enabled": True,
        "extra": None,
    }


def test_object_keys_are_not_interpolated(ctx: dict[str, Any]) -> None:
    assert render({"{{customer.name}}": "{{customer.name}}"}, ctx).value == {
        "{{customer.name}}": "Ada"
    }


def test_missing_paths_stay_as_written_and_are_reported(ctx: dict[str, Any]) -> None:
    rendered = render(
        {"a": "Hi {{ customer.nickname }} / {{customer.name}}", "b": ["{{workflow.nope}}"]}, ctx
    )
    assert rendered.value == {"a": "Hi {{ customer.nickname }} / Ada", "b": ["{{workflow.nope}}"]}
    assert rendered.missing == ("customer.nickname", "workflow.nope")


def test_a_missing_path_is_reported_once(ctx: dict[str, Any]) -> None:
    rendered = render("{{a.b}} {{a.b}} {{ a.b }}", ctx)
    assert rendered.value == "{{a.b}} {{a.b}} {{ a.b }}"
    assert rendered.missing == ("a.b",)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("trigger.items", [{"sku": "A"}]),
        ("trigger.orderId", 1001),
        ("workflow.price", 49.99),
        ("workflow.flag", True),
        ("workflow.nothing", None),
        ("workflow.draft", {"to": "ada@example.com", "tags": ["x"]}),
        ("customer.name", "Ada"),
    ],
)
def test_a_lone_placeholder_keeps_the_type(ctx: dict[str, Any], path: str, expected: Any) -> None:
    rendered = render("{{ " + path + " }}", ctx)
    assert rendered.value == expected
    assert type(rendered.value) is type(expected)


def test_a_lone_missing_placeholder_stays_text(ctx: dict[str, Any]) -> None:
    assert render("{{ workflow.nope }}", ctx) == Rendered("{{ workflow.nope }}", ("workflow.nope",))


def test_text_around_a_lone_placeholder_makes_it_text(ctx: dict[str, Any]) -> None:
    assert render(" {{trigger.orderId}}", ctx).value == " 1001"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("workflow.count", "5"),
        ("workflow.price", "49.99"),
        ("workflow.total", "100"),
        ("workflow.big", "1e+20"),
        ("workflow.flag", "true"),
        ("workflow.off", "false"),
        ("workflow.nothing", ""),
        ("trigger.items", '[{"sku":"A"}]'),
        ("workflow.draft", '{"to":"ada@example.com","tags":["x"]}'),
    ],
)
def test_text_form_of_values(ctx: dict[str, Any], path: str, text: str) -> None:
    assert render("<{{" + path + "}}>", ctx).value == f"<{text}>"


def test_non_ascii_stays_readable_in_json(ctx: dict[str, Any]) -> None:
    ctx["variables"]["workflow"]["city"] = {"name": "Zürich"}
    assert render("at {{workflow.city}}", ctx).value == 'at {"name":"Zürich"}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{}} and {{ }}", "{{}} and {{ }}"),
        ("{{{customer.name}}}", "{Ada}"),
        ("{ {customer.name} }", "{ {customer.name} }"),
        ("{{customer.name", "{{customer.name"),
        ("no placeholders", "no placeholders"),
        ("", ""),
    ],
)
def test_brace_edge_cases(ctx: dict[str, Any], text: str, expected: str) -> None:
    assert render(text, ctx).value == expected


def test_a_malformed_path_is_missing_not_an_error(ctx: dict[str, Any]) -> None:
    assert render("x {{customer..name}}", ctx) == Rendered(
        "x {{customer..name}}", ("customer..name",)
    )


def test_non_string_scalars_render_as_themselves(ctx: dict[str, Any]) -> None:
    for value in (3, 2.5, True, None):
        assert render(value, ctx) == Rendered(value, ())


def test_placeholders_lists_every_path_once_in_order() -> None:
    template = Template.compile(
        {"a": "{{ customer.name }} {{trigger.id}}", "b": ["{{customer.name}}", "{{workflow.x}}"]}
    )
    assert template.placeholders == ("customer.name", "trigger.id", "workflow.x")
    assert not template.is_static
    assert Template.compile({"a": ["plain"]}).is_static


def test_equal_configs_compile_once() -> None:
    first = Template.compile({"to": "{{customer.email}}", "n": [1, 2]})
    second = Template.compile({"to": "{{customer.email}}", "n": [1, 2]})
    assert first is second
    assert Template.compile("Hi {{x.y}}") is Template.compile("Hi {{x.y}}")


def test_the_cache_keeps_json_types_apart(ctx: dict[str, Any]) -> None:
    assert render([1], ctx).value == [1]
    assert render([True], ctx).value == [True]
    assert type(render([1.0], ctx).value[0]) is float
    assert type(render([True], ctx).value[0]) is bool


def test_a_rendered_value_shares_nothing_with_the_context(ctx: dict[str, Any]) -> None:
    rendered = render("{{workflow.draft}}", ctx)
    rendered.value["tags"].append("y")
    assert ctx["variables"]["workflow"]["draft"]["tags"] == ["x"]


def test_a_rendered_constant_shares_nothing_with_the_cache(ctx: dict[str, Any]) -> None:
    config = {"list": [], "nested": {"k": [1]}}
    first = render(config, ctx).value
    first["list"].append("mutated")
    first["nested"]["k"].append(2)
    config["list"].append("caller mutated its config")
    assert render({"list": [], "nested": {"k": [1]}}, ctx).value == {
        "list": [],
        "nested": {"k": [1]},
    }


def test_tuples_and_unhashable_values_still_render(ctx: dict[str, Any]) -> None:
    assert render(("{{customer.name}}", 1), ctx).value == ["Ada", 1]
    odd = {"when": object()}
    assert render(odd, ctx).value["when"] is odd["when"]


def test_rendering_never_raises_on_odd_contexts() -> None:
    template = Template.compile(["{{workflow.x}}", "a {{trigger.y}}", "{{customer}}"])
    for ctx in ({}, {"variables": None, "trigger": 5, "customer": None}):
        rendered = template.render(ctx)
        assert rendered.value[0] == "{{workflow.x}}"
