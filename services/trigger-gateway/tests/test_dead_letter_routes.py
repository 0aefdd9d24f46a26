"""Dead letters: a tenant sees its own, the operator every tenant's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def dead_letter(gw, dl_id: str, tenant: str | None, minutes: int, consumer: str = "integrations"):
    headers = {"ce_type": "IntegrationRequested"}
    if tenant:
        headers["tenant_id"] = tenant
    gw.dead_letters.docs.append(
        {
            "_id": dl_id,
            "dead_letter_id": dl_id,
            "consumer": consumer,
            "original_topic": f"connectflo.{consumer}.requests.v1",
            "original_headers": headers,
            "original_value": "{}",
            "error_type": "EnvelopeError",
            "error": "bad",
            "attempts": 1,
            "failed_at": datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        }
    )


def test_a_tenant_lists_only_its_own_dead_letters(gw) -> None:
    dead_letter(gw, "d1", "ten_a", 1)
    dead_letter(gw, "d2", "ten_b", 2)
    dead_letter(gw, "d3", None, 3)
    body = gw.client.get("/v1/dead-letters", headers=gw.as_tenant()).json()
    assert [d["id"] for d in body["dead_letters"]] == ["d1"]
    assert body["dead_letters"][0]["error_type"] == "EnvelopeError"


def test_the_admin_lists_every_tenants_newest_first_with_filters_and_paging(gw) -> None:
    dead_letter(gw, "d1", "ten_a", 1)
    dead_letter(gw, "d2", "ten_b", 2, consumer="notifier")
    dead_letter(gw, "d3", None, 3)
    admin = gw.as_admin()
    first = gw.client.get("/v1/dead-letters", params={"limit": 2}, headers=admin).json()
    assert [d["id"] for d in first["dead_letters"]] == ["d3", "d2"]
    rest = gw.client.get(
        "/v1/dead-letters", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin
    ).json()
    assert [d["id"] for d in rest["dead_letters"]] == ["d1"]
    notifier = gw.client.get("/v1/dead-letters", params={"consumer": "notifier"}, headers=admin)
    assert [d["id"] for d in notifier.json()["dead_letters"]] == ["d2"]


def test_a_wrong_admin_token_or_no_key_is_401(gw) -> None:
    assert gw.client.get("/v1/dead-letters", headers={"X-Admin-Token": "nope"}).status_code == 401
    assert gw.client.get("/v1/dead-letters").status_code == 401
