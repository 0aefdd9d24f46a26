"""Connecting by OAuth 2.0 through the gateway, against the provider sandbox's authorization
servers: the authorization-code grant (with PKCE for Zendesk), the tokens sealed and never
answered; the access token refreshed before it expires and once after a 401; a revoked grant
marks the connection broken with the provider's reason; a used or unknown state is refused."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import OAUTH_CLIENT_SECRET, SANDBOX_URL, SERVICES, Stack, TenantApi, oauth_client_id
from connections import connect, sandbox_made, sandbox_state

pytestmark = pytest.mark.e2e
CALLBACK = f"http://127.0.0.1:{SERVICES['trigger-gateway'].port}/oauth/callback"


async def register_app(provider: str, account: str, **spec: Any) -> str:
    client_id = oauth_client_id(provider)
    await sandbox_made(
        "/sandbox/oauth/apps",
        {"provider": provider, "client_id": client_id, "client_secret": OAUTH_CLIENT_SECRET,
         "redirect_uri": CALLBACK, "account": account, **spec},
    )  # fmt: skip
    return client_id


async def authorize(api: TenantApi, connection_id: str) -> tuple[str, httpx.Response]:
    """The person's part: start, follow the provider's consent back to the gateway."""
    started = await api.http.post(
        f"/v1/connections/{connection_id}/oauth", headers=api.tenant.headers
    )
    assert started.status_code == 201, started.text
    url = started.json()["authorization_url"]
    async with httpx.AsyncClient() as browser:
        consent = await browser.get(url)
        assert consent.status_code == 302, consent.text
        back = consent.headers["location"]
        assert back.startswith(CALLBACK)
        return url, await browser.get(back)


def contact_workflow() -> dict[str, Any]:
    return {
        "name": "OAuth contact",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            {"id": "who", "type": "integration", "label": "HubSpot",
             "config": {"action": "getContact", "contactId": "{{customer.email}}",
                        "idProperty": "email", "outputVariable": "contact"}},
        ],
        "edges": [{"id": "e1", "source": "t", "target": "who"}],
    }  # fmt: skip


async def test_hubspot_by_oauth_refreshed_before_expiry_and_after_a_401_broken_when_revoked(
    api: TenantApi, stack: Stack
) -> None:
    account = await sandbox_made("/sandbox/hubspot/accounts", {"limit": 100})
    client_id = await register_app("hubspot", str(account["portal_id"]), access_lifetime=3)
    made = await connect(
        api.http, api.tenant.headers, "hubspot", name="CRM by OAuth",
        config={"base_url": SANDBOX_URL},
    )  # fmt: skip
    assert made["status"] == "pending"
    url, callback = await authorize(api, made["id"])
    assert "code_challenge" not in url and f"client_id={client_id}" in url  # HubSpot: no PKCE
    assert callback.status_code == 200, callback.text
    connected = callback.json()
    assert connected["status"] == "connected"
    assert connected["credentials"]["fields"] == ["access_token", "refresh_token"]
    assert "access_token" not in str(connected["config"])

    sent = iter(range(100))

    async def contact() -> dict[str, Any]:
        trigger_id = await api.message(
            "hi", conversation_id=f"oauth-{next(sent)}", customer={"email": "ana@example.com"}
        )
        return await api.finished_execution(trigger_id)

    await api.activate(contact_workflow())
    first = await contact()
    assert first["status"] == "completed", first.get("error")
    assert first["variables"]["workflow"]["contact"]["properties"]["firstname"] == "Ana"
    assert (await sandbox_state(f"/sandbox/oauth/apps/{client_id}"))["refreshed"] == 0

    await asyncio.sleep(2.5)  # within the leeway of its expiry: renewed before the call
    assert (await contact())["status"] == "completed"
    assert (await sandbox_state(f"/sandbox/oauth/apps/{client_id}"))["refreshed"] == 1

    async with httpx.AsyncClient(base_url=SANDBOX_URL) as sandbox:
        await sandbox.post(f"/sandbox/oauth/apps/{client_id}/expire")  # a 401 next
    assert (await contact())["status"] == "completed"
    assert (await sandbox_state(f"/sandbox/oauth/apps/{client_id}"))["refreshed"] == 2

    async with httpx.AsyncClient(base_url=SANDBOX_URL) as sandbox:
        await sandbox.post(f"/sandbox/oauth/apps/{client_id}/revoke")
    failed = await contact()
    assert failed["status"] == "failed"
    assert "ConnectionBroken" in str(failed.get("error"))
    view = (await api.http.get(f"/v1/connections/{made['id']}", headers=api.tenant.headers)).json()
    assert view["status"] == "broken" and "BAD_REFRESH_TOKEN" in view["broken_reason"]
    assert OAUTH_CLIENT_SECRET not in str(view) and OAUTH_CLIENT_SECRET not in str(failed)


async def test_zendesk_by_oauth_with_pkce_and_each_state_used_once(api: TenantApi) -> None:
    account = await sandbox_made("/sandbox/zendesk/accounts", {"limit": 400})
    await register_app("zendesk", account["subdomain"], access_lifetime=None, refresh=False)
    made = await connect(
        api.http, api.tenant.headers, "zendesk", name="Desk by OAuth",
        config={"subdomain": account["subdomain"], "base_url": SANDBOX_URL},
    )  # fmt: skip
    url, callback = await authorize(api, made["id"])
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert callback.status_code == 200, callback.text
    assert callback.json()["credentials"]["fields"] == ["access_token"]
    replay = await api.http.get(str(callback.request.url))
    assert replay.status_code == 404 and "already used" in replay.json()["detail"]
    unknown = await api.http.get("/oauth/callback", params={"state": "nope", "code": "x"})
    assert unknown.status_code == 404
    checked = await api.http.post(f"/v1/connections/{made['id']}/check", headers=api.tenant.headers)
    assert checked.json()["ok"] is True, checked.text
    assert checked.json()["result"]["role"] == "agent"


async def test_a_refusal_at_consent_leaves_the_connection_pending(api: TenantApi) -> None:
    account = await sandbox_made("/sandbox/zendesk/accounts", {"limit": 400})
    await register_app("zendesk", account["subdomain"], deny=True)
    made = await connect(
        api.http, api.tenant.headers, "zendesk", name="Denied",
        config={"subdomain": account["subdomain"], "base_url": SANDBOX_URL},
    )  # fmt: skip
    _, callback = await authorize(api, made["id"])
    assert callback.status_code == 400 and "access_denied" in callback.json()["detail"]
    view = (await api.http.get(f"/v1/connections/{made['id']}", headers=api.tenant.headers)).json()
    assert view["status"] == "pending"
    stripe = await connect(api.http, api.tenant.headers, "stripe", name="Stripe no OAuth",
                           config={"base_url": SANDBOX_URL})  # fmt: skip
    refused = await api.http.post(
        f"/v1/connections/{stripe['id']}/oauth", headers=api.tenant.headers
    )
    assert refused.status_code == 409 and "not connected by OAuth" in refused.json()["detail"]


async def test_shopify_by_oauth_an_offline_token_for_the_shop(api: TenantApi) -> None:
    """Shopify's grant: no PKCE, an offline access token that does not expire (no refresh)."""
    store = await sandbox_made("/sandbox/shopify/stores", {"domain": "oauth-shop.myshopify.com"})
    await register_app("shopify", store["domain"])
    made = await connect(
        api.http, api.tenant.headers, "shopify", name="Shop by OAuth",
        config={"shop": store["domain"], "base_url": SANDBOX_URL},
    )  # fmt: skip
    url, callback = await authorize(api, made["id"])
    assert urlsplit(url).path == "/admin/oauth/authorize" and "code_challenge" not in url
    assert callback.status_code == 200, callback.text
    assert callback.json()["credentials"]["fields"] == ["access_token"]
    checked = await api.http.post(f"/v1/connections/{made['id']}/check", headers=api.tenant.headers)
    assert checked.json()["ok"] is True, checked.text
