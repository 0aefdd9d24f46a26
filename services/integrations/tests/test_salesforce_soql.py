"""SOQL bindings: a customer's words become a quoted SOQL literal, never SOQL."""

import pytest
from integrations.domain.operations import IntegrationError
from integrations.providers.salesforce import bind, soql_literal


def test_values_become_literals_with_salesforces_escapes() -> None:
    hostile = "x' OR Name != '"
    soql = bind("SELECT Id FROM Contact WHERE Email = :email AND Name != ':kept'",
                {"email": hostile})  # fmt: skip
    assert soql == r"SELECT Id FROM Contact WHERE Email = 'x\' OR Name != \'' AND Name != ':kept'"
    assert soql_literal("a\\b\nc") == r"'a\\b\nc'"
    assert soql_literal(["a", 2, True, None]) == "('a', 2, true, null)"


@pytest.mark.parametrize(
    ("soql", "bindings", "said"),
    [
        ("SELECT Id FROM Lead WHERE Email = :email", {}, "no binding for :email"),
        ("SELECT Id FROM Lead WHERE Id IN :ids", {"ids": []}, "IN list binding is empty"),
        ("SELECT Id FROM Lead WHERE N = :n", {"n": float("nan")}, "not a finite number"),
        ("SELECT Id FROM Lead WHERE N = :n", {"n": {"a": 1}}, "cannot be bound"),
    ],
)
def test_a_binding_that_cannot_be_a_literal_is_invalid(soql, bindings, said) -> None:
    with pytest.raises(IntegrationError, match=said) as refused:
        bind(soql, bindings)
    assert refused.value.error_type == "Invalid"
