"""The `http` mode against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest
from integrations.adapters.http_provider import HttpProvider
from integrations.domain.operations import IntegrationCall, IntegrationError
from memory_harness import connection


async def perform(fake_system, action: str, timeout: float = 5, max_bytes: int = 4096):
    conn = connection("http", fake_system.base_url, timeout=timeout)
    async with httpx.AsyncClient() as client:
        provider = HttpProvider(client, max_response_bytes=max_bytes)
        return await provider.perform(
            conn, IntegrationCall("shopify", action, {"orderId": "1042"}), "exe_1:shop:1:1"
        )


async def test_posts_action_params_and_idempotency_key_and_answers_the_json(fake_system) -> None:
    result = await perform(fake_system, "getOrder")
    assert result == {"name": "#1042", "params": {"orderId": "1042"}}
    [seen] = fake_system.received
    assert seen["path"] == "/api/getOrder"
    assert seen["headers"]["Idempotency-Key"] == "exe_1:shop:1:1"
    assert seen["body"] == {
        "action": "getOrder",
        "params": {"orderId": "1042"},
        "idempotency_key": "exe_1:shop:1:1",
    }


@pytest.mark.parametrize(
    ("action", "error_type", "status", "says"),
    [
        ("missing", "NotFound", 404, "no such order"),
        ("broken", "Unavailable", 503, "maintenance"),
        ("notJson", "BadResponse", None, "not JSON"),
        ("huge", "BadResponse", 200, "more than 4096 bytes"),
    ],
)
async def test_failures_are_typed_errors(fake_system, action, error_type, status, says) -> None:
    with pytest.raises(IntegrationError) as caught:
        await perform(fake_system, action)
    error = caught.value.as_error()
    assert error["type"] == error_type
    assert error.get("status") == status
    assert says in error["message"]
    assert fake_system.base_url not in error["message"]


async def test_a_timeout_is_a_timeout(fake_system) -> None:
    with pytest.raises(IntegrationError, match=r"within 0\.2s") as caught:
        await perform(fake_system, "slow", timeout=0.2)
    assert caught.value.error_type == "Timeout" and caught.value.transient


async def test_nobody_listening_is_unavailable() -> None:
    conn = connection("http", "http://127.0.0.1:9", timeout=2)
    async with httpx.AsyncClient() as client:
        with pytest.raises(IntegrationError) as caught:
            await HttpProvider(client, 1024).perform(
                conn, IntegrationCall("shopify", "getOrder", {}), "k"
            )
    assert caught.value.error_type == "Unavailable"


async def test_an_empty_answer_is_an_empty_result_and_a_list_is_wrapped(fake_system) -> None:
    assert await perform(fake_system, "empty") == {}
    assert await perform(fake_system, "aList") == {"result": [1, 2]}
