"""A workflow's resources (`/v1/workflow-resources`): documents, phone numbers and an AI
configuration attached and detached, the plan's per-workflow limits held also under attaches
at once (on FerretDB, whose updates are not compare-and-set), the workflow's
`resources_revision` incremented by every change, and another tenant's things not found."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from contracts.ai import PLANS, WORKFLOW_RESOURCES, workflow_resources_ref


async def document(kb: Any, title: str = "FAQ", key: str = "key-a") -> str:
    answer = await kb.client.post(
        "/v1/documents",
        json={"title": title, "format": "text", "content": f"{title}: answers to questions."},
        headers=kb.as_tenant(key),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def phone_number(kb: Any, number: str, tenant: str = "ten_a") -> str:
    """A number of the tenant's Twilio account, as adapters/channels.py stores it."""
    number_id = "pn_" + hashlib.sha256(f"{tenant}:{number}".encode()).hexdigest()[:24]
    await kb.db.phone_numbers.insert_one(
        {
            "_id": number,
            "tenant_id": tenant,
            "number_id": number_id,
            "name": "Support",
            "whatsapp": False,
        }
    )
    return number_id


async def ai_config(kb: Any, name: str = "Bot", key: str = "key-a") -> str:
    answer = await kb.client.post("/v1/ai-configs", json={"name": name}, headers=kb.as_tenant(key))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def revision_of(kb: Any, workflow: str) -> int:
    return int((await kb.stored_workflow(workflow)).get("resources_revision") or 0)


def path(workflow: str, *rest: str) -> str:
    return "/".join(("/v1/workflow-resources", workflow, *rest))


async def test_a_new_workflow_has_nothing_and_its_plans_limits(kb) -> None:
    workflow = await kb.workflow()
    answer = await kb.client.get(path(workflow), headers=kb.as_tenant())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "workflow_id": workflow,
        "documents": [],
        "phone_numbers": [],
        "ai_config": None,
        "limits": {
            "maxDocumentsPerWorkflow": PLANS["free"].maxDocumentsPerWorkflow,
            "maxPhoneNumbersPerWorkflow": PLANS["free"].maxPhoneNumbersPerWorkflow,
        },
    }
    assert await revision_of(kb, workflow) == 0


async def test_documents_attach_once_and_detach(kb, expect_problem) -> None:
    workflow, faq = await kb.workflow(), await document(kb)
    attached = await kb.client.post(path(workflow, "documents", faq), headers=kb.as_tenant())
    assert attached.status_code == 201, attached.text
    [listed] = attached.json()["documents"]
    assert listed["id"] == faq and listed["title"] == "FAQ" and listed["assigned_at"]
    assert await revision_of(kb, workflow) == 1
    again = await kb.client.post(path(workflow, "documents", faq), headers=kb.as_tenant())
    assert again.status_code == 200 and again.json() == attached.json()
    assert await revision_of(kb, workflow) == 1  # nothing changed
    stored = await kb.db[WORKFLOW_RESOURCES].find_one(
        {"_id": workflow_resources_ref("ten_a", workflow)}
    )
    assert stored["tenant_id"] == "ten_a" and stored["workflow_id"] == workflow
    assert stored["document_ids"] == [faq] and stored["phone_number_ids"] == []
    assert stored["ai_config_id"] is None and set(stored["assigned_at"]) == {faq}
    assert (
        await kb.client.delete(path(workflow, "documents", faq), headers=kb.as_tenant())
    ).status_code == 204
    assert await revision_of(kb, workflow) == 2
    gone = await kb.client.delete(path(workflow, "documents", faq), headers=kb.as_tenant())
    assert "not attached" in expect_problem(gone, 404)["detail"]
    after = (await kb.client.get(path(workflow), headers=kb.as_tenant())).json()
    assert after["documents"] == []


async def test_past_the_plans_documents_per_workflow_is_409_naming_the_limit(
    kb, expect_limit
) -> None:
    workflow = await kb.workflow()
    most = PLANS["free"].maxDocumentsPerWorkflow
    docs = [await document(kb, f"Doc {n}") for n in range(most + 1)]
    for doc in docs[:most]:
        assert (
            await kb.client.post(path(workflow, "documents", doc), headers=kb.as_tenant())
        ).status_code == 201
    answer = await kb.client.post(path(workflow, "documents", docs[most]), headers=kb.as_tenant())
    problem = expect_limit(answer, 409, "maxDocumentsPerWorkflow")
    assert problem["current"] == most and problem["plan"] == "free"
    assert problem["detail"] == (
        f"plan free allows {most} documents per workflow (maxDocumentsPerWorkflow); "
        f"there are {most}"
    )
    # one already attached is still answered 200 at the limit
    assert (
        await kb.client.post(path(workflow, "documents", docs[0]), headers=kb.as_tenant())
    ).status_code == 200
    await kb.set_plan("starter")
    assert (
        await kb.client.post(path(workflow, "documents", docs[most]), headers=kb.as_tenant())
    ).status_code == 201


async def test_the_limit_holds_under_attaches_at_once(kb) -> None:
    workflow = await kb.workflow()
    most = PLANS["free"].maxDocumentsPerWorkflow
    docs = [await document(kb, f"Doc {n}") for n in range(most + 5)]
    answers = await asyncio.gather(
        *(kb.client.post(path(workflow, "documents", d), headers=kb.as_tenant()) for d in docs)
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * most + [409] * 5
    won = {d for d, a in zip(docs, answers, strict=True) if a.status_code == 201}
    view = (await kb.client.get(path(workflow), headers=kb.as_tenant())).json()
    assert {d["id"] for d in view["documents"]} == won  # every 201 is attached, none lost
    assert await revision_of(kb, workflow) == most
    same = await asyncio.gather(
        *(
            kb.client.delete(path(workflow, "documents", d), headers=kb.as_tenant())
            for d in [*won, *won]
        )
    )
    assert sorted(a.status_code for a in same) == [204] * most + [404] * most


async def test_phone_numbers_attach_by_their_id_within_the_plan(
    kb, expect_problem, expect_limit
) -> None:
    workflow = await kb.workflow()
    first, second = await phone_number(kb, "+15550001111"), await phone_number(kb, "+15550002222")
    attached = await kb.client.post(path(workflow, "phone-numbers", first), headers=kb.as_tenant())
    assert attached.status_code == 201, attached.text
    [number] = attached.json()["phone_numbers"]
    assert (
        number["id"] == first
        and number["phone_number"] == "+15550001111"
        and number["name"] == "Support"
    )
    assert PLANS["free"].maxPhoneNumbersPerWorkflow == 1
    answer = await kb.client.post(path(workflow, "phone-numbers", second), headers=kb.as_tenant())
    expect_limit(answer, 409, "maxPhoneNumbersPerWorkflow")
    theirs = await phone_number(kb, "+15550003333", tenant="ten_b")
    unknown = await kb.client.post(path(workflow, "phone-numbers", theirs), headers=kb.as_tenant())
    assert expect_problem(unknown, 404)["detail"] == f"no phone number {theirs}"
    assert (
        await kb.client.delete(path(workflow, "phone-numbers", first), headers=kb.as_tenant())
    ).status_code == 204
    expect_problem(
        await kb.client.delete(path(workflow, "phone-numbers", first), headers=kb.as_tenant()), 404
    )
    assert await revision_of(kb, workflow) == 2


async def test_one_ai_configuration_replaced_and_detached(kb, expect_problem) -> None:
    workflow, bot, other = await kb.workflow(), await ai_config(kb), await ai_config(kb, "Other")
    answer = await kb.client.put(path(workflow, "ai-config", bot), headers=kb.as_tenant())
    assert answer.status_code == 200, answer.text
    assert answer.json()["ai_config"]["id"] == bot and answer.json()["ai_config"]["name"] == "Bot"
    replaced = await kb.client.put(path(workflow, "ai-config", other), headers=kb.as_tenant())
    assert replaced.json()["ai_config"]["name"] == "Other"
    stored = await kb.db[WORKFLOW_RESOURCES].find_one(
        {"_id": workflow_resources_ref("ten_a", workflow)}
    )
    assert stored["ai_config_id"] == other and set(stored["assigned_at"]) == {other}
    assert await revision_of(kb, workflow) == 2
    assert (
        await kb.client.delete(path(workflow, "ai-config"), headers=kb.as_tenant())
    ).status_code == 204
    assert (await kb.client.get(path(workflow), headers=kb.as_tenant())).json()["ai_config"] is None
    expect_problem(await kb.client.delete(path(workflow, "ai-config"), headers=kb.as_tenant()), 404)
    assert await revision_of(kb, workflow) == 3


async def test_a_change_to_an_attached_document_reloads_the_workflow(kb) -> None:
    workflow, faq, other = await kb.workflow(), await document(kb), await kb.workflow()
    await kb.client.post(path(workflow, "documents", faq), headers=kb.as_tenant())
    answer = await kb.client.put(
        f"/v1/documents/{faq}",
        json={"title": "FAQ", "format": "text", "content": "New."},
        headers=kb.as_tenant(),
    )
    assert answer.status_code == 200
    assert await revision_of(kb, workflow) == 2
    assert await revision_of(kb, other) == 0  # nothing of it attached there


@pytest.mark.parametrize(
    "request_of",
    [
        lambda w, d, n, c: ("GET", path(w)),
        lambda w, d, n, c: ("POST", path(w, "documents", d)),
        lambda w, d, n, c: ("DELETE", path(w, "documents", d)),
        lambda w, d, n, c: ("POST", path(w, "phone-numbers", n)),
        lambda w, d, n, c: ("PUT", path(w, "ai-config", c)),
        lambda w, d, n, c: ("DELETE", path(w, "ai-config")),
    ],
)
async def test_another_tenants_workflow_is_not_found(kb, expect_problem, request_of) -> None:
    theirs = await kb.workflow(key="key-b")
    method, url = request_of(
        theirs, await document(kb), await phone_number(kb, "+15550009999"), await ai_config(kb)
    )
    answer = await kb.client.request(method, url, headers=kb.as_tenant())
    assert expect_problem(answer, 404)["detail"] == f"no workflow {theirs}"


async def test_another_tenants_document_and_configuration_are_not_found(kb, expect_problem) -> None:
    workflow = await kb.workflow()
    doc, config = await document(kb, key="key-b"), await ai_config(kb, key="key-b")
    answer = await kb.client.post(path(workflow, "documents", doc), headers=kb.as_tenant())
    assert expect_problem(answer, 404)["detail"] == f"no document {doc}"
    answer = await kb.client.put(path(workflow, "ai-config", config), headers=kb.as_tenant())
    assert expect_problem(answer, 404)["detail"] == f"no AI configuration {config}"
    assert await revision_of(kb, workflow) == 0


# -- the tenant's plan --------------------------------------------------------------------------


async def test_tenants_are_made_with_a_plan_and_the_operator_changes_it(kb, expect_problem) -> None:
    admin = kb.gw.as_admin()
    made = await kb.client.post("/v1/tenants", json={"name": "Acme", "plan": "pro"}, headers=admin)
    assert made.status_code == 201 and made.json()["plan"] == "pro"
    default = await kb.client.post("/v1/tenants", json={"name": "Beta"}, headers=admin)
    assert default.json()["plan"] == "starter"
    key = made.json()["api_key"]
    plan = await kb.client.get("/v1/plan", headers={"Authorization": f"Bearer {key}"})
    assert (
        plan.json()["plan"] == "pro"
        and plan.json()["limits"]["maxDocuments"] == PLANS["pro"].maxDocuments
    )
    changed = await kb.client.patch(
        f"/v1/tenants/{made.json()['tenant_id']}", json={"plan": "enterprise"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["plan"] == "enterprise"
    assert changed.json()["limits"]["maxAiConfigs"] == PLANS["enterprise"].maxAiConfigs
    plan = await kb.client.get("/v1/plan", headers={"Authorization": f"Bearer {key}"})
    assert plan.json()["plan"] == "enterprise"
    expect_problem(
        await kb.client.patch("/v1/tenants/ten_nope", json={"plan": "pro"}, headers=admin), 404
    )
    bad = await kb.client.patch("/v1/tenants/ten_a", json={"plan": "gold"}, headers=admin)
    assert expect_problem(bad, 422)["errors"][0]["name"] == "body.plan"
    refused = await kb.client.patch(
        "/v1/tenants/ten_a", json={"plan": "pro"}, headers=kb.as_tenant()
    )
    expect_problem(refused, 401)


async def test_the_plan_says_its_limits_and_usage(kb) -> None:
    await document(kb)
    await document(kb, "Second")
    await ai_config(kb)
    await document(kb, key="key-b")
    answer = await kb.client.get("/v1/plan", headers=kb.as_tenant())
    assert answer.status_code == 200
    assert answer.json() == {
        "plan": "free",
        "limits": PLANS["free"].model_dump(),
        "usage": {"documents": 2, "ai_configs": 1, "intents": 0},
    }
