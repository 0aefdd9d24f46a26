"""A workflow's resources when an execution starts: attached ones merged with the workflow's
configuration nodes, read once per resources revision, nothing read for a workflow without."""

from __future__ import annotations

from typing import Any

from executor.runtime.resources import WorkflowResources
from executor.runtime.triggers import _derived, _number_refusal

Doc = dict[str, Any]


class Source:
    def __init__(self) -> None:
        self.reads: list[str] = []
        self.config: Doc = {"_id": "aic_1", "name": "Bot", "model": "gpt-4o", "temperature": 0.2}

    async def attached(self, tenant_id: str, workflow_id: str) -> Doc | None:
        self.reads.append("attached")
        return {
            "document_ids": ["doc_a", "doc_gone"],
            "phone_number_ids": ["pn_1"],
            "ai_config_id": "aic_1",
        }

    async def ai_config(self, tenant_id: str, config_id: str) -> Doc | None:
        self.reads.append(f"ai_config:{config_id}")
        return self.config if config_id == "aic_1" else None

    async def documents(self, tenant_id: str, ids: list[str]) -> list[Doc]:
        self.reads.append("documents")
        return [{"_id": "doc_a", "title": "Returns", "format": "markdown"}]

    async def phone_numbers(self, tenant_id: str, number_ids: list[str]) -> list[Doc]:
        return [{"_id": "+4930123", "number_id": "pn_1", "name": "Berlin"}]


WORKFLOW = {"_id": "wf_1", "active_version": 2, "resources_revision": 3}


async def test_attached_resources_merge_with_the_nodes_own() -> None:
    source = Source()
    own = {"knowledgeBase": {"documentIds": ["doc_b"]}, "aiConfig": {"temperature": 0.9}}
    resources = await WorkflowResources(source).of("ten", WORKFLOW, own)
    assert resources["documents"] == [{"id": "doc_a", "title": "Returns", "format": "markdown"}]
    assert resources["knowledgeBase"] == {"documentIds": ["doc_a", "doc_b"]}  # doc_gone: deleted
    assert resources["phoneNumbers"] == [
        {"id": "pn_1", "phoneNumber": "+4930123", "name": "Berlin"}
    ]
    ai = resources["aiConfig"]
    assert (ai["id"], ai["model"], ai["temperature"]) == ("aic_1", "gpt-4o", 0.9)  # node wins
    assert ai["retrieval"]["topK"] == 3 and ai["maxTokens"] == 500  # the config's defaults


async def test_loaded_once_per_revision_and_never_without_one() -> None:
    source = Source()
    loader = WorkflowResources(source)
    await loader.of("ten", WORKFLOW, {})
    await loader.of("ten", WORKFLOW, {})
    assert source.reads.count("attached") == 1
    await loader.of("ten", {**WORKFLOW, "resources_revision": 4}, {})
    assert source.reads.count("attached") == 2
    assert await loader.of("ten", {"_id": "wf_2", "active_version": 1}, {}) == {}
    assert source.reads.count("attached") == 2


async def test_a_node_may_name_the_configuration() -> None:
    source = Source()
    own = {"aiConfig": {"aiConfigId": "aic_1", "model": "gpt-4.1-mini"}}
    resources = await WorkflowResources(source).of("ten", {"_id": "wf_3"}, own)
    assert resources["aiConfig"]["model"] == "gpt-4.1-mini"
    assert "attached" not in source.reads  # nothing attached to read


def test_a_workflow_with_numbers_takes_only_theirs() -> None:
    resources = {"phoneNumbers": [{"id": "pn_1"}]}
    assert _number_refusal(resources, {"phoneNumberId": "pn_1"}) is None
    assert "pn_2" in (_number_refusal(resources, {"phoneNumberId": "pn_2"}) or "")
    assert _number_refusal({}, {"phoneNumberId": "pn_2"}) is None


def test_a_classified_message_offers_itself_to_intent_and_sentiment_workflows() -> None:
    classification = {
        "sentiment": {"score": -0.7, "label": "negative"},
        "intent": {"name": "refund_request", "confidence": 0.8, "ranking": []},
    }
    derived = dict(_derived(classification, None, {"text": "refund now!"}))
    assert derived["Intent Detected"]["intent"] == "refund_request"
    assert derived["Intent Detected"]["confidence"] == 0.8
    assert derived["Sentiment Negative"]["score"] == -0.7
    no_intent = {"sentiment": {"score": 0.1, "label": "neutral"}, "intent": {"name": None}}
    assert [kind for kind, _ in _derived(no_intent, None, {})] == ["Sentiment Negative"]
