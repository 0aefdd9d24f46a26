"""`/v1/webhooks` on in-memory endpoints: the secret answered once and then by fingerprint,
URL and event type validation as RFC 9457 problems, the SSRF guard and its setting, tenant
isolation, rotation, a ping queued for the notifier, the deliveries' listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from servicekit.sealing import Sealed

from .conftest import Harness, assert_problem

Doc = dict[str, Any]
URL = "https://hooks.example.com/connectflo"


class MemoryWebhooks:
    """adapters/webhooks.WebhookRepository in memory (the MongoDB one: tests-e2e)."""

    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self.deliveries_: list[Doc] = []

    async def create(self, doc: Doc) -> Doc:
        now = datetime.now(UTC)
        self.docs[doc["_id"]] = {**doc, "created_at": now, "updated_at": now}
        return self.docs[doc["_id"]]

    async def count(self, tenant_id: str) -> int:
        return len(await self.of_tenant(tenant_id))

    async def of_tenant(self, tenant_id: str) -> list[Doc]:
        return [d for d in self.docs.values() if d["tenant_id"] == tenant_id]

    async def get(self, tenant_id: str, endpoint_id: str) -> Doc | None:
        doc = self.docs.get(endpoint_id)
        return doc if doc and doc["tenant_id"] == tenant_id else None

    async def update(self, tenant_id: str, endpoint_id: str, sets: Doc) -> Doc | None:
        doc = await self.get(tenant_id, endpoint_id)
        if doc is not None:
            doc.update(sets, updated_at=datetime.now(UTC))
        return doc

    async def delete(self, tenant_id: str, endpoint_id: str) -> bool:
        return await self.get(tenant_id, endpoint_id) is not None and bool(
            self.docs.pop(endpoint_id)
        )

    async def add_delivery(self, doc: Doc) -> None:
        self.deliveries_.append(doc)

    async def deliveries(
        self, tenant_id: str, endpoint_id: str, *, status: str | None, limit: int, after: Any
    ) -> list[Doc]:
        mine = [
            d
            for d in self.deliveries_
            if (d["tenant_id"], d["endpoint_id"]) == (tenant_id, endpoint_id)
            and status in (None, d["status"])
        ]
        mine.sort(key=lambda d: (d["created_at"], d["_id"]), reverse=True)
        if after is not None:
            mine = [d for d in mine if (d["created_at"], d["_id"]) < tuple(after)]
        return mine[:limit]


@pytest.fixture
def hooks(gw: Harness) -> MemoryWebhooks:
    memory = MemoryWebhooks()
    gw.client.app.app.state.webhooks = memory  # type: ignore[attr-defined]
    return memory


def create(gw: Harness, key: str = "key-a", **body: Any) -> Any:
    return gw.client.post("/v1/webhooks", json={"url": URL, **body}, headers=gw.as_tenant(key))


def test_the_secret_is_answered_once_and_stored_sealed(gw: Harness, hooks) -> None:
    created = create(gw, description="CRM")
    assert created.status_code == 201, created.text
    body = created.json()
    secret, webhook_id = body["secret"], body["id"]
    assert secret.startswith("whsec_") and len(secret) == 6 + 64
    assert body["event_types"] == [
        "message.received",
        "message.sent",
        "message.status_updated",
        "message.failed",
        "conversation.assigned",
    ]
    assert body["active"] is True and body["disabled_reason"] is None
    stored = hooks.docs[webhook_id]
    assert secret not in json.dumps(stored, default=str)
    opened = gw.keyring.open(
        Sealed.from_document(stored["secret"]), tenant_id="ten_a", purpose="webhook.secret"
    )
    assert opened.reveal() == secret and body["secret_fingerprint"] == stored["secret"]["fp"]
    for shown in (
        gw.client.get(f"/v1/webhooks/{webhook_id}", headers=gw.as_tenant()),
        gw.client.get("/v1/webhooks", headers=gw.as_tenant()),
    ):
        assert shown.status_code == 200 and secret not in shown.text
        assert body["secret_fingerprint"] in shown.text


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.com/x", "body.url"),
        ("https://user:pw@hooks.example.com/x", "body.url"),
        ("https://hooks.example.com/x#frag", "body.url"),
        ("https://hooks.example.com:99999/x", "body.url"),
        ("http://127.0.0.1:8000/hook", "not a public address"),
        ("http://localhost:8000/hook", "not a public address"),
        ("http://10.1.2.3/hook", "not a public address"),
        ("http://[::1]:8000/hook", "body.url"),  # no IPv6 literal
        ("http://169.254.169.254/latest", "not a public address"),
    ],
)
def test_urls_that_cannot_be_endpoints_are_422(gw: Harness, hooks, url: str, reason: str) -> None:
    problem = assert_problem(create(gw, url=url), 422)
    assert reason in problem["detail"] or any(reason in e["name"] for e in problem["errors"])
    assert hooks.docs == {}


def test_the_local_configuration_allows_loopback(gw: Harness, hooks) -> None:
    gw.client.app.app.state.gateway.settings.webhook_allow_private_urls = True  # type: ignore[attr-defined]
    assert create(gw, url="http://127.0.0.1:8000/hook").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"event_types": ["message.deleted"]},
        {"event_types": []},
        {"event_types": ["ping"]},
        {"active": "yes"},
        {"secret": "mine"},
    ],
)
def test_unknown_event_types_and_fields_are_422(gw: Harness, hooks, body: Doc) -> None:
    problem = assert_problem(create(gw, **body), 422)
    assert problem["errors"]


def test_another_tenants_endpoint_is_404_everywhere(gw: Harness, hooks) -> None:
    webhook_id = create(gw).json()["id"]
    other = gw.as_tenant("key-b")
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/secret"),
        ("POST", "/test"),
        ("GET", "/deliveries"),
    ]:
        kwargs: Doc = {"json": {"active": False}} if method == "PATCH" else {}
        answer = gw.client.request(
            method, f"/v1/webhooks/{webhook_id}{path}", headers=other, **kwargs
        )
        assert_problem(answer, 404)
    assert gw.client.get("/v1/webhooks", headers=other).json() == {"webhooks": []}
    assert assert_problem(gw.client.get("/v1/webhooks"), 401)


def test_update_rotate_and_delete(gw: Harness, hooks) -> None:
    first = create(gw).json()
    path = f"/v1/webhooks/{first['id']}"
    changed = gw.client.patch(
        path,
        json={"event_types": ["message.sent", "message.sent"], "active": False},
        headers=gw.as_tenant(),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == ["message.sent"] and changed.json()["active"] is False
    assert_problem(
        gw.client.patch(path, json={"url": "http://localhost/x"}, headers=gw.as_tenant()), 422
    )
    assert_problem(gw.client.post(path + "/test", headers=gw.as_tenant()), 409)  # inactive
    hooks.docs[first["id"]]["disabled_reason"] = "the endpoint answered 410 Gone"
    again = gw.client.patch(path, json={"active": True}, headers=gw.as_tenant()).json()
    assert again["active"] is True and again["disabled_reason"] is None
    rotated = gw.client.post(path + "/secret", headers=gw.as_tenant()).json()
    assert rotated["secret"] != first["secret"]
    assert rotated["secret_fingerprint"] != first["secret_fingerprint"]
    assert gw.client.delete(path, headers=gw.as_tenant()).status_code == 204
    assert_problem(gw.client.get(path, headers=gw.as_tenant()), 404)


def test_a_tenant_has_a_bounded_number_of_endpoints(gw: Harness, hooks) -> None:
    gw.client.app.app.state.gateway.settings.webhooks_per_tenant = 2  # type: ignore[attr-defined]
    assert [create(gw).status_code for _ in range(2)] == [201, 201]
    assert_problem(create(gw), 409)


def test_a_ping_is_queued_for_the_notifier_and_listed_with_its_attempts(gw: Harness, hooks) -> None:
    webhook_id = create(gw).json()["id"]
    accepted = gw.client.post(f"/v1/webhooks/{webhook_id}/test", headers=gw.as_tenant())
    assert accepted.status_code == 202, accepted.text
    (delivery,) = hooks.deliveries_
    assert delivery["_id"] == accepted.json()["delivery_id"] and delivery["status"] == "pending"
    event = json.loads(delivery["body"])
    assert event["type"] == "ping" and event["tenant_id"] == "ten_a"
    assert event["id"] == accepted.json()["event_id"] == delivery["event_id"]
    at = datetime.now(UTC)
    delivery.update(
        status="delivered",
        attempts=2,
        delivered_at=at,
        attempt_log=[
            {"attempt": 1, "at": at, "status_code": 500, "duration_ms": 3.2, "error": None},
            {"attempt": 2, "at": at, "status_code": 200, "duration_ms": 2.1, "error": None},
        ],
    )
    for n in range(3):  # older ones, to page through
        hooks.deliveries_.append(
            {**delivery, "_id": f"whd_{n}", "created_at": at - timedelta(minutes=n + 1)}
        )
    listed = gw.client.get(
        f"/v1/webhooks/{webhook_id}/deliveries", params={"limit": 2}, headers=gw.as_tenant()
    )
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [d["id"] for d in page["deliveries"]] == [delivery["_id"], "whd_0"]
    first = page["deliveries"][0]
    assert [a["status_code"] for a in first["attempt_log"]] == [500, 200]
    assert first["event"]["type"] == "ping" and first["next_attempt_at"] is None
    rest = gw.client.get(
        f"/v1/webhooks/{webhook_id}/deliveries",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=gw.as_tenant(),
    ).json()
    assert [d["id"] for d in rest["deliveries"]] == ["whd_1", "whd_2"]
    assert_problem(
        gw.client.get(
            f"/v1/webhooks/{webhook_id}/deliveries",
            params={"cursor": "nonsense"},
            headers=gw.as_tenant(),
        ),
        422,
    )
