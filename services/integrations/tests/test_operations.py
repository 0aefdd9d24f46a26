import pytest
from integrations.domain.operations import IntegrationError, perform


def test_echo_returns_its_params() -> None:
    assert perform("integration.echo", {"integration": "echo", "params": {"a": 1}}) == {
        "echo": {"a": 1}
    }


def test_unconnected_provider_is_an_error_naming_it() -> None:
    with pytest.raises(IntegrationError, match="shopify") as caught:
        perform("integration.shopify", {"action": "getOrder"})
    assert caught.value.error_type == "IntegrationNotConnected"
