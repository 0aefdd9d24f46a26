"""GET /v1/triggers/{id}: what a trigger did, including the workflows it did not start."""

from __future__ import annotations

from datetime import UTC, datetime

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_trigger_that_started_nothing_says_which_workflows_and_why(gw) -> None:
    gw.executions.trigger_outcomes["trg_1"] = {
        "_id": "trg_1",
        "tenant_id": "ten_a",
        "trigger_type": "Intent Detected",
        "received_at": T0,
        "not_started": [
            {
                "workflow_id": "wf_refund",
                "workflow_name": "Refund",
                "version": 3,
                "reason": "intent 'cancel_subscription' is not 'refund_request'",
            }
        ],
        "resumed": [],
    }
    answer = gw.client.get("/v1/triggers/trg_1", headers=gw.as_tenant())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["trigger_type"] == "Intent Detected" and body["executions"] == []
    assert body["not_started"][0]["reason"].startswith("intent 'cancel_subscription'")


def test_a_trigger_lists_the_executions_it_started_next_to_those_it_did_not(gw) -> None:
    gw.executions.docs["exe_1"] = {
        "_id": "exe_1",
        "tenant_id": "ten_a",
        "workflow_id": "wf_1",
        "trigger_id": "trg_2",
        "trigger_type": "Incoming Message",
        "status": "completed",
        "created_at": T0,
    }
    answer = gw.client.get("/v1/triggers/trg_2", headers=gw.as_tenant())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [e["id"] for e in body["executions"]] == ["exe_1"]
    assert body["not_started"] == [] and body["resumed"] == []


def test_an_unknown_or_unhandled_or_another_tenants_trigger_is_404(gw, expect_problem) -> None:
    gw.executions.trigger_outcomes["trg_b"] = {
        "_id": "trg_b",
        "tenant_id": "ten_b",
        "trigger_type": "New Order",
        "not_started": [],
        "resumed": [],
    }
    for trigger_id in ("trg_nope", "trg_b"):
        answer = gw.client.get(f"/v1/triggers/{trigger_id}", headers=gw.as_tenant())
        expect_problem(answer, 404)


def test_an_accepted_trigger_points_at_what_it_did(gw) -> None:
    answer = gw.client.post(
        "/v1/events/incoming_message", json={"payload": {}}, headers=gw.as_tenant()
    )
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["trigger_url"] == f"http://gw.test/v1/triggers/{accepted['trigger_id']}"
