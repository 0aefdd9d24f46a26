"""The sandbox in-process: the app on an ASGI transport, its webhooks to an in-process app
through `create_app(webhook_transport=...)` (how a service's own tests can use it)."""

import httpx
from provider_sandbox.app import create_app
from provider_sandbox.settings import SandboxSettings
from twilio.request_validator import RequestValidator

SID, TOKEN = "AC" + "fe" * 16, "in-process-token"
GATEWAY = "http://gateway.test"


async def test_webhooks_reach_an_in_process_app_signed():
    received: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        received.append(request)
        twiml = "<Response><Message>Got it</Message></Response>"
        if request.url.path.endswith("/messages"):
            return httpx.Response(200, text=twiml, headers={"content-type": "text/xml"})
        return httpx.Response(204)

    settings = SandboxSettings(twilio_accounts=((SID, TOKEN),), twilio_delivery_delay_ms=1)
    app = create_app(settings, webhook_transport=httpx.MockTransport(gateway))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://sandbox") as http,
    ):
        created = await http.post(
            f"/2010-04-01/Accounts/{SID}/IncomingPhoneNumbers.json",
            data={"PhoneNumber": "+14155550100", "SmsUrl": f"{GATEWAY}/webhooks/twilio/messages"},
            auth=(SID, TOKEN),
        )
        assert created.status_code == 201

        result = await http.post(
            "/sandbox/twilio/inbound",
            json={"from": "+14155550199", "to": "+14155550100", "body": "hi"},
        )

        assert result.json()["replies"][0]["body"] == "Got it"
        webhook = received[0]
        form = dict(httpx.QueryParams(webhook.content.decode()))
        assert RequestValidator(TOKEN).validate(
            str(webhook.url), form, webhook.headers["x-twilio-signature"]
        )
        assert form["Body"] == "hi"
