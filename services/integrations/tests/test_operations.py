import pytest
from integrations.domain.operations import IntegrationCall, IntegrationError, echo, not_connected


def test_a_node_request_names_integration_action_and_params() -> None:
    call = IntegrationCall.of(
        "integration.shopify",
        {"integration": "shopify", "action": "getOrder", "params": {"orderId": "1"}},
    )
    assert call == IntegrationCall("shopify", "getOrder", {"orderId": "1"})
    assert IntegrationCall.of("integration.jira", {"action": "createIssue"}).integration == "jira"


def test_echo_answers_what_was_asked() -> None:
    call = IntegrationCall("stripe", "refund", {"amount": 5})
    assert echo(call) == {"echo": {"amount": 5}, "action": "refund"}


@pytest.mark.parametrize(
    "request_",
    [
        {"integration": "shopify"},
        {"integration": "shopify", "action": "../admin"},
        {"integration": "shopify", "action": "getOrder", "params": [1]},
    ],
)
def test_malformed_requests_are_rejected_naming_the_integration(request_) -> None:
    with pytest.raises(IntegrationError, match="shopify") as caught:
        IntegrationCall.of("integration.shopify", request_)
    assert caught.value.error_type == "Invalid"


def test_unconnected_provider_is_an_error_naming_it() -> None:
    error = not_connected(IntegrationCall("shopify", "getOrder", {})).as_error()
    assert error["type"] == "NotConnected"
    assert "shopify" in error["message"]
