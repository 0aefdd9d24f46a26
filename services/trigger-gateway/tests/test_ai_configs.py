"""AI configurations and classification settings: validated on save (the spec's fields, the
openai connection, a unique name, the plan's maxAiConfigs and maxIntents), a revision per
change, a configuration in use not deleted, another tenant's not found."""

from __future__ import annotations

from typing import Any

import pytest
from contracts.ai import AI_CONFIGS, CLASSIFICATION, PLANS

CONFIG = {"name": "Support bot", "model": "gpt-4o-mini", "temperature": 0.2, "tone": "friendly"}
INTENTS = [
    {"name": "order_status", "examples": ["where is my order", "has my parcel shipped"]},
    {"name": "refund", "description": "Money back", "examples": ["I want a refund", "money back"]},
]


async def create(kb: Any, body: dict[str, Any] | None = None, key: str = "key-a") -> dict[str, Any]:
    answer = await kb.client.post("/v1/ai-configs", json=body or CONFIG, headers=kb.as_tenant(key))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def connect(kb: Any, type_: str, name: str) -> str:
    body: dict[str, Any] = {"type": type_, "name": name, "mode": "echo"}
    answer = await kb.client.post("/v1/connections", json=body, headers=kb.as_tenant())
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_a_configuration_is_saved_with_its_defaults_and_a_revision(kb) -> None:
    made = await create(kb)
    assert made["id"].startswith("aic_") and len(made["id"]) == 28
    assert made["revision"] == 1 and made["temperature"] == 0.2 and made["max_tokens"] == 500
    assert made["tools_allowed"] == ["knowledge_search", "human_handoff", "structured_output"]
    assert made["language"] == {"default": "en", "match_customer": True, "allowed": []}
    stored = await kb.db[AI_CONFIGS].find_one({"_id": made["id"]})
    assert stored["tenant_id"] == "ten_a" and stored["name"] == "Support bot"
    assert stored["retrieval"]["top_k"] == 3 and stored["connection_id"] is None
    got = await kb.client.get(f"/v1/ai-configs/{made['id']}", headers=kb.as_tenant())
    assert got.json() == made
    listed = await kb.client.get("/v1/ai-configs", headers=kb.as_tenant())
    assert [c["id"] for c in listed.json()["ai_configs"]] == [made["id"]]


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"temperature": 3}, "body.temperature"),
        ({"name": ""}, "body.name"),
        ({"tools_allowed": ["browse"]}, "body.tools_allowed"),
        ({"language": {"allowed": ["english"]}}, "body.language.allowed"),
        ({"retrieval": {"top_k": 99}}, "body.retrieval.top_k"),
        ({"tone": "sarcastic"}, "body.tone"),
        ({"colour": "blue"}, "body.colour"),
        ({"max_tokens": "500"}, "body.max_tokens"),  # numbers are not coerced from text
        ({"retrieval": {"embeddings": 1}}, "body.retrieval.embeddings"),
    ],
)
async def test_the_spec_is_validated_naming_the_field(kb, expect_problem, change, name) -> None:
    answer = await kb.client.post(
        "/v1/ai-configs", json={**CONFIG, **change}, headers=kb.as_tenant()
    )
    named = [e["name"] for e in expect_problem(answer, 422)["errors"]]
    assert any(n == name or n.startswith(f"{name}[") for n in named), named  # or its item


async def test_the_connection_must_be_one_of_the_tenants_openai_ones(kb, expect_problem) -> None:
    stripe = await connect(kb, "stripe", "Payments")
    answer = await kb.client.post(
        "/v1/ai-configs", json={**CONFIG, "connection": "Payments"}, headers=kb.as_tenant()
    )
    error = expect_problem(answer, 422)["errors"][0]
    assert error["name"] == "body.connection" and "stripe" in error["reason"]
    answer = await kb.client.post(
        "/v1/ai-configs", json={**CONFIG, "connection": "Nope"}, headers=kb.as_tenant()
    )
    assert "it has none" in expect_problem(answer, 422)["errors"][0]["reason"]
    openai = await connect(kb, "openai", "OpenAI prod")
    answer = await kb.client.post(
        "/v1/ai-configs", json={**CONFIG, "connection": "Nope"}, headers=kb.as_tenant()
    )
    assert "OpenAI prod" in expect_problem(answer, 422)["errors"][0]["reason"]
    by_name = await create(kb, {**CONFIG, "connection": "OpenAI prod"})
    assert by_name["connection"] == "OpenAI prod" and by_name["connection_id"] == openai
    by_id = await create(kb, {**CONFIG, "name": "By id", "connection": openai})
    assert by_id["connection_id"] == openai
    assert stripe != openai


async def test_names_are_unique_per_tenant(kb, expect_problem) -> None:
    first = await create(kb)
    problem = expect_problem(
        await kb.client.post("/v1/ai-configs", json=CONFIG, headers=kb.as_tenant()), 409
    )
    assert problem["errors"][0]["name"] == "body.name"
    other = await create(kb, {**CONFIG, "name": "Sales bot"})
    renamed = await kb.client.put(
        f"/v1/ai-configs/{other['id']}", json=CONFIG, headers=kb.as_tenant()
    )
    assert expect_problem(renamed, 409)["errors"][0]["name"] == "body.name"
    await create(kb, key="key-b")  # another tenant's name space
    assert first["name"] == CONFIG["name"]


async def test_more_configurations_than_the_plan_allows_is_409_naming_the_limit(
    kb, expect_limit
) -> None:
    most = PLANS["free"].maxAiConfigs
    for n in range(most):
        await create(kb, {**CONFIG, "name": f"Bot {n}"})
    answer = await kb.client.post(
        "/v1/ai-configs", json={**CONFIG, "name": "One more"}, headers=kb.as_tenant()
    )
    problem = expect_limit(answer, 409, "maxAiConfigs")
    assert problem["current"] == most and problem["plan"] == "free"
    await kb.set_plan("pro")
    await create(kb, {**CONFIG, "name": "One more"})


async def test_a_change_is_the_next_revision_and_reloads_the_workflows_using_it(kb) -> None:
    made = await create(kb)
    workflow = await kb.workflow()
    put = await kb.client.put(
        f"/v1/workflow-resources/{workflow}/ai-config/{made['id']}", headers=kb.as_tenant()
    )
    assert put.status_code == 200, put.text
    revision = (await kb.stored_workflow(workflow))["resources_revision"]
    answer = await kb.client.put(
        f"/v1/ai-configs/{made['id']}", json={**CONFIG, "temperature": 0.9}, headers=kb.as_tenant()
    )
    assert answer.status_code == 200, answer.text
    after = answer.json()
    assert after["revision"] == 2 and after["temperature"] == 0.9 and after["tone"] == "friendly"
    assert after["created_at"] == made["created_at"]
    assert (await kb.stored_workflow(workflow))["resources_revision"] == revision + 1


async def test_a_configuration_in_use_is_not_deleted(kb, expect_problem) -> None:
    made = await create(kb)
    workflow = await kb.workflow()
    await kb.client.put(
        f"/v1/workflow-resources/{workflow}/ai-config/{made['id']}", headers=kb.as_tenant()
    )
    settings = {"ai_config_id": made["id"], "intents": INTENTS}
    assert (
        await kb.client.put("/v1/classification", json=settings, headers=kb.as_tenant())
    ).status_code == 200
    refused = await kb.client.delete(f"/v1/ai-configs/{made['id']}", headers=kb.as_tenant())
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert workflow in problem["detail"] and "classification settings" in problem["detail"]
    assert problem["workflows"] == [workflow] and problem["classification"] is True
    await kb.client.put("/v1/classification", json={"intents": INTENTS}, headers=kb.as_tenant())
    await kb.client.delete(f"/v1/workflow-resources/{workflow}/ai-config", headers=kb.as_tenant())
    assert (
        await kb.client.delete(f"/v1/ai-configs/{made['id']}", headers=kb.as_tenant())
    ).status_code == 204
    expect_problem(await kb.client.get(f"/v1/ai-configs/{made['id']}", headers=kb.as_tenant()), 404)


async def test_another_tenants_configuration_is_not_found(kb, expect_problem) -> None:
    theirs = await create(kb, key="key-b")
    path = f"/v1/ai-configs/{theirs['id']}"
    for answer in (
        await kb.client.get(path, headers=kb.as_tenant()),
        await kb.client.put(path, json=CONFIG, headers=kb.as_tenant()),
        await kb.client.delete(path, headers=kb.as_tenant()),
    ):
        expect_problem(answer, 404)
    assert (await kb.client.get("/v1/ai-configs", headers=kb.as_tenant())).json() == {
        "ai_configs": []
    }


# -- classification settings ------------------------------------------------------------------


async def test_the_defaults_until_saved_then_a_revision_per_change(kb) -> None:
    defaults = (await kb.client.get("/v1/classification", headers=kb.as_tenant())).json()
    assert defaults["revision"] == 0 and defaults["intents"] == [] and defaults["engine"] == "local"
    assert defaults["sentiment"] is True and defaults["updated_at"] is None
    for revision in (1, 2):
        answer = await kb.client.put(
            "/v1/classification",
            json={"intents": INTENTS, "min_confidence": 0.4},
            headers=kb.as_tenant(),
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["revision"] == revision
    stored = await kb.db[CLASSIFICATION].find_one({"_id": "ten_a"})
    assert stored["revision"] == 2 and stored["min_confidence"] == 0.4
    assert stored["intents"][1] == {
        "name": "refund",
        "description": "Money back",
        "examples": ["I want a refund", "money back"],
    }
    got = (await kb.client.get("/v1/classification", headers=kb.as_tenant())).json()
    assert [i["name"] for i in got["intents"]] == ["order_status", "refund"]
    other = (await kb.client.get("/v1/classification", headers=kb.as_tenant("key-b"))).json()
    assert other["revision"] == 0  # another tenant's settings are its own


async def test_more_intents_than_the_plan_allows_is_409_naming_the_limit(kb, expect_limit) -> None:
    most = PLANS["free"].maxIntents
    intents = [
        {"name": f"intent_{n}", "examples": ["a phrase", "another one"]} for n in range(most + 1)
    ]
    answer = await kb.client.put(
        "/v1/classification", json={"intents": intents}, headers=kb.as_tenant()
    )
    assert expect_limit(answer, 409, "maxIntents")["current"] == most + 1
    ok = await kb.client.put(
        "/v1/classification", json={"intents": intents[:most]}, headers=kb.as_tenant()
    )
    assert ok.status_code == 200
    usage = (await kb.client.get("/v1/plan", headers=kb.as_tenant())).json()["usage"]
    assert usage["intents"] == most


@pytest.mark.parametrize(
    ("body", "name", "says"),
    [
        ({"engine": "gpt"}, "body.engine", ""),
        ({"engine": "openai"}, "body.ai_config_id", "needed by the openai engine"),
        (
            {"ai_config_id": "aic_nope"},
            "body.ai_config_id",
            "no AI configuration",
        ),
        ({"intents": [INTENTS[0], INTENTS[0]]}, "body.intents", "named twice"),
        ({"intents": [{"name": "x", "examples": ["only one"]}]}, "body.intents[0].examples", ""),
        ({"intents": [{"name": "Bad Name", "examples": ["a", "b"]}]}, "body.intents[0].name", ""),
        ({"min_confidence": 2}, "body.min_confidence", ""),
        ({"min_confidence": False}, "body.min_confidence", "number"),  # not coerced
        (
            {"intents": [{"name": "x", "examples": ["a phrase", "  "]}]},
            "body.intents[0].examples[1]",
            "",
        ),
    ],
)
async def test_settings_are_validated_naming_the_field(
    kb, expect_problem, body, name, says
) -> None:
    answer = await kb.client.put("/v1/classification", json=body, headers=kb.as_tenant())
    errors = {e["name"]: e["reason"] for e in expect_problem(answer, 422)["errors"]}
    assert name in errors and says in errors[name]


async def test_the_ai_configuration_named_exists_and_its_changes_are_followed(
    kb, expect_problem
) -> None:
    made = await create(kb)
    answer = await kb.client.put(
        "/v1/classification",
        json={"ai_config_id": made["id"]},
        headers=kb.as_tenant(),
    )
    assert answer.status_code == 200 and answer.json()["revision"] == 1
    await kb.client.put(
        f"/v1/ai-configs/{made['id']}", json={**CONFIG, "model": "gpt-4o"}, headers=kb.as_tenant()
    )
    got = (await kb.client.get("/v1/classification", headers=kb.as_tenant())).json()
    assert got["revision"] == 2  # the executor's classifier is made again
    theirs = await create(kb, key="key-b")
    answer = await kb.client.put(
        "/v1/classification",
        json={"ai_config_id": theirs["id"]},
        headers=kb.as_tenant(),
    )
    assert expect_problem(answer, 422)["errors"][0]["name"] == "body.ai_config_id"
