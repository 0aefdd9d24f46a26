"""Reading, writing and deleting variable paths in a workflow context."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from executor.domain.expressions import MISSING, delete_path, get_path, is_valid_path, set_path


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {
        "execution": {"id": "ex-1", "workflowId": "wf-1", "tenantId": "t-1"},
        "trigger": {
            "type": "Incoming Message",
            "source": {
                "text": "where is my order?",
                "orderId": "1001",
                "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}],
                "note": None,
            },
        },
        "variables": {
            "workflow": {"step": "review", "payment": {"amount": 4200}, "tags": ["a", "b"]},
            "conversation": {"status": "open"},
            "global": {"companyName": "Acme"},
        },
        "customer": {"name": "Ada", "address": {"city": "Paris"}, "0": "zero-key"},
        "resources": {"documents": []},
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("variables.workflow.step", "review"),
        ("workflow.step", "review"),
        ("workflow.payment.amount", 4200),
        ("conversation.status", "open"),
        ("global.companyName", "Acme"),
        ("variables.global.companyName", "Acme"),
        ("customer.name", "Ada"),
        ("customer.address.city", "Paris"),
        ("execution.id", "ex-1"),
        ("resources.documents", []),
        ("trigger.orderId", "1001"),
        ("trigger.source.orderId", "1001"),
        ("trigger.type", "Incoming Message"),
        ("trigger.note", None),
        ("trigger.items.0.sku", "A"),
        ("trigger.items[0].sku", "A"),
        ("trigger.items[1]", {"sku": "B", "qty": 2}),
        ("trigger.items.-1.sku", "B"),
        ("trigger.items[-2].qty", 1),
        ("workflow.tags[1]", "b"),
        ('customer["address"].city', "Paris"),
        ("customer['name']", "Ada"),
        ("customer.0", "zero-key"),
        ("customer[0]", "zero-key"),
        ("  customer.name  ", "Ada"),
        ("$workflow.step", "review"),
    ],
)
def test_reads_a_present_path(ctx: dict[str, Any], path: str, expected: Any) -> None:
    assert get_path(ctx, path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "customer.missing",
        "customer.name.first",  # a field of a string
        "customer.address.city.zip",
        "trigger.items.2.sku",  # out of range
        "trigger.items.-3",
        "trigger.items.sku",  # a field of a list
        "trigger.items.01",  # not an index, and the list has no keys
        "trigger.note.value",  # a field of null
        "trigger.nothing",
        "workflow.nothing.deeper",
        "nothing",
        "",
        "   ",
        ".customer",
        "customer.",
        "customer..name",
        "customer[",
        "customer[]",
        "customer]name",
        "[0]",
        "customer.[0]",
        "$",
    ],
)
def test_a_missing_or_malformed_path_reads_missing(ctx: dict[str, Any], path: str) -> None:
    assert get_path(ctx, path) is MISSING


def test_missing_is_not_null(ctx: dict[str, Any]) -> None:
    assert get_path(ctx, "trigger.note") is None
    assert get_path(ctx, "trigger.absent") is MISSING
    assert MISSING is not None
    assert not MISSING
    assert repr(MISSING) == "MISSING"


def test_missing_survives_copy_and_pickle() -> None:
    assert copy.copy(MISSING) is MISSING
    assert copy.deepcopy(MISSING) is MISSING
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING


def test_payload_fields_win_over_the_envelope(ctx: dict[str, Any]) -> None:
    ctx["trigger"]["source"]["type"] = "sms"
    ctx["trigger"]["source"]["source"] = "twilio"
    assert get_path(ctx, "trigger.type") == "sms"
    assert get_path(ctx, "trigger.source") == "twilio"
    # The full envelope path still reaches the payload.
    assert get_path(ctx, "trigger.source.orderId") is MISSING  # "twilio" has no fields


def test_trigger_alone_is_the_payload_over_the_envelope(ctx: dict[str, Any]) -> None:
    view = get_path(ctx, "trigger")
    assert view["type"] == "Incoming Message"
    assert view["orderId"] == "1001"
    assert view["source"] is ctx["trigger"]["source"]


def test_reading_never_raises_on_odd_contexts() -> None:
    for ctx in ({}, {"variables": None}, {"variables": {"workflow": 3}}, {"trigger": "x"}):
        assert get_path(ctx, "workflow.x") is MISSING
        assert get_path(ctx, "trigger.x") is MISSING
    assert get_path({"trigger": {"source": [5]}}, "trigger.0") == 5
    assert get_path({"a": {"b": 1}}, 42) is MISSING  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("a.b[0].c", True),
        ('a["x.y"]', True),
        ("a[0][1]", True),
        ("a..b", False),
        ("a.[0]", False),
        ("", False),
        ("a[", False),
        (5, False),
        (None, False),
    ],
)
def test_path_validity(path: str, valid: bool) -> None:
    assert is_valid_path(path) is valid


def test_set_creates_intermediate_objects(ctx: dict[str, Any]) -> None:
    set_path(ctx, "workflow.order.shipping.city", "Lyon")
    assert ctx["variables"]["workflow"]["order"] == {"shipping": {"city": "Lyon"}}


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("workflow.x", "workflow"),
        ("conversation.x", "conversation"),
        ("global.x", "global"),
        ("variables.workflow.x", "workflow"),
        ("variables.conversation.x", "conversation"),
    ],
)
def test_set_every_scope_and_spelling(path: str, scope: str) -> None:
    ctx: dict[str, Any] = {}
    set_path(ctx, path, 7)
    assert ctx == {"variables": {scope: {"x": 7}}}
    assert get_path(ctx, path) == 7


def test_set_replaces_null_with_an_object(ctx: dict[str, Any]) -> None:
    ctx["variables"]["workflow"]["payment"] = None
    set_path(ctx, "workflow.payment.id", "pi_1")
    assert ctx["variables"]["workflow"]["payment"] == {"id": "pi_1"}


def test_set_into_a_list_element(ctx: dict[str, Any]) -> None:
    set_path(ctx, "workflow.tags[1]", "z")
    set_path(ctx, "workflow.tags.-2", "y")
    assert ctx["variables"]["workflow"]["tags"] == ["y", "z"]
    ctx["variables"]["workflow"]["rows"] = [{"n": 1}]
    set_path(ctx, "workflow.rows[0].n", 2)
    assert ctx["variables"]["workflow"]["rows"] == [{"n": 2}]


def test_set_stores_the_value_itself(ctx: dict[str, Any]) -> None:
    value = {"a": [1]}
    set_path(ctx, "workflow.v", value)
    assert get_path(ctx, "workflow.v") is value


@pytest.mark.parametrize(
    "path",
    [
        "customer.name",
        "trigger.orderId",
        "execution.id",
        "resources.x",
        "variables.other.x",
        "variables",
        "variables.workflow",
        "workflow",
        "nothing.x",
        "workflow..x",
        "",
    ],
)
def test_set_refuses_anything_but_a_variable(ctx: dict[str, Any], path: str) -> None:
    before = copy.deepcopy(ctx)
    with pytest.raises(ValueError, match="cannot write") as raised:
        set_path(ctx, path, 1)
    assert repr(path) in str(raised.value)
    assert ctx == before


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("workflow.step.x", "under a str"),
        ("workflow.payment.amount.cents", "under a int"),
        ("workflow.tags.5", "out of range"),
        ("workflow.tags.x", "under a list"),
        ("workflow.tags.9.x", "out of range"),
    ],
)
def test_set_refuses_to_destroy_a_value(ctx: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        set_path(ctx, path, 1)


def test_delete_removes_a_variable(ctx: dict[str, Any]) -> None:
    delete_path(ctx, "workflow.payment.amount")
    delete_path(ctx, "variables.conversation.status")
    delete_path(ctx, "workflow.tags[0]")
    assert ctx["variables"]["workflow"]["payment"] == {}
    assert ctx["variables"]["conversation"] == {}
    assert ctx["variables"]["workflow"]["tags"] == ["b"]


def test_delete_of_an_absent_variable_does_nothing(ctx: dict[str, Any]) -> None:
    before = copy.deepcopy(ctx)
    for path in ("workflow.nope", "workflow.nope.deeper", "workflow.tags.7", "global.x.y"):
        delete_path(ctx, path)
    delete_path({}, "workflow.x")
    assert ctx == before


def test_delete_refuses_anything_but_a_variable(ctx: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"'customer\.name'"):
        delete_path(ctx, "customer.name")
    with pytest.raises(ValueError, match="inside the scope"):
        delete_path(ctx, "workflow")
