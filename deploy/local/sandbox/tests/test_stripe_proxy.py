"""Stripe's idempotent requests in front of stripe-mock (here a recording upstream): a POST is
performed once per Idempotency-Key and API key, replayed with Idempotent-Replayed, refused with
other parameters; everything asked is recorded for a test to count."""

import json

import httpx
from provider_sandbox.app import create_app
from provider_sandbox.settings import SandboxSettings


async def test_a_key_is_performed_once_replayed_after_and_refused_for_other_params(
    receiver,
) -> None:
    receiver.answer("/v1/refunds", 200, json.dumps({"id": "re_1", "object": "refund"}),
                    "application/json")  # fmt: skip
    app = create_app(SandboxSettings(stripe_mock_url=receiver.url))
    key = {"Authorization": "Bearer sk_test_a", "Idempotency-Key": "exe_1:n1"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sandbox") as http,
    ):
        first = await http.post("/stripe/v1/refunds", data={"amount": "500"}, headers=key)
        again = await http.post("/stripe/v1/refunds", data={"amount": "500"}, headers=key)
        other = await http.post("/stripe/v1/refunds", data={"amount": "900"}, headers=key)
        elsewhere = await http.post(
            "/stripe/v1/refunds", data={"amount": "500"},
            headers={**key, "Authorization": "Bearer sk_test_b"},
        )  # fmt: skip
        asked = (await http.get("/sandbox/stripe/requests", params={"path": "/v1/refunds"})).json()

    assert first.json()["id"] == again.json()["id"] == "re_1"
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    assert elsewhere.status_code == 200  # keys are per API key (account)
    assert [r["outcome"] for r in asked["requests"]] == [
        "performed", "replayed", "refused", "performed"
    ]  # fmt: skip
    [upstream, *_] = receiver.at("/v1/refunds")
    assert upstream.headers["idempotency-key"] == "exe_1:n1"
    assert upstream.headers["authorization"] == "Bearer sk_test_a"
    assert len(receiver.at("/v1/refunds")) == 2
