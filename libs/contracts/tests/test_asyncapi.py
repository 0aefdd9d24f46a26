"""docs/asyncapi.json: current, valid against the official AsyncAPI 3.0.0 JSON Schema, every
reference resolving, and what a service really sends conforming to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from contracts import Envelope
from contracts.asyncapi import channel_id, document, main
from contracts.catalogue import TOPIC_EVENTS
from contracts.events import EVENT_TYPES, InboundMessage, TriggerReceived
from contracts.topics import ALL_TOPICS, TRIGGERS

REPO = Path(__file__).resolve().parents[3]
COMMITTED = REPO / "docs" / "asyncapi.json"
SPECS_VERSION = "6.11.1"  # deploy/local/bootstrap.sh fetches it (npm pack @asyncapi/specs)
SPEC = REPO / ".cache" / f"asyncapi-specs-{SPECS_VERSION}" / "3.0.0.json"


def test_the_committed_document_is_current() -> None:
    assert main([str(COMMITTED), "--check"]) == 0, "run `make asyncapi` and commit"


def test_the_document_is_valid_asyncapi_3() -> None:
    assert SPEC.exists(), f"{SPEC} is missing: run deploy/local/bootstrap.sh (it fetches it)"
    validator = jsonschema_rs.Draft7Validator(json.loads(SPEC.read_text()))
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(document())]
    assert errors == []


def test_a_broken_document_is_refused_by_the_schema() -> None:
    """The validation above can fail: a channel without its address shape, a bad action."""
    validator = jsonschema_rs.Draft7Validator(json.loads(SPEC.read_text()))
    broken = document()
    next(iter(broken["operations"].values()))["action"] = "publish"  # AsyncAPI 2's word
    assert not validator.is_valid(broken)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_in_the_document() -> None:
    doc = document()
    for ref in _refs(doc):
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_every_topic_is_a_channel_with_its_partitions_and_every_event_a_message() -> None:
    doc = document()
    for spec in ALL_TOPICS:
        channel = doc["channels"][channel_id(spec.name)]
        assert channel["address"] == spec.name
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        for message in channel["messages"].values():
            assert message["bindings"]["kafka"]["key"]["description"]
    on_channels = {m for c in doc["channels"].values() for m in c["messages"]}
    assert on_channels == set(EVENT_TYPES)
    senders = {
        (op["action"], op["channel"]["$ref"].rsplit("/", 1)[1]) for op in doc["operations"].values()
    }
    assert all(("send", channel_id(t)) in senders for t in TOPIC_EVENTS)


def _validator(doc: dict[str, Any], pointer: str) -> jsonschema_rs.Validator:
    registry = jsonschema_rs.Registry([("urn:connectflo:asyncapi", doc)])
    return jsonschema_rs.Draft202012Validator(
        {"$ref": "urn:connectflo:asyncapi#" + pointer}, registry=registry
    )


@pytest.mark.parametrize("with_message", [False, True])
def test_a_message_as_the_gateway_sends_it_conforms(with_message: bool) -> None:
    trigger = TriggerReceived(
        trigger_id="trg_1",
        tenant_id="t1",
        trigger_type="Incoming Message",
        conversation_id="conv_1",
        received_at=datetime.now(UTC),
        message=InboundMessage(contact_address="+15550100", body="hi") if with_message else None,
    )
    sent = Envelope.wrap(trigger, source="/connectflo/trigger-gateway", tenant_id="t1")
    doc = document()
    message = f"/channels/{channel_id(TRIGGERS)}/messages/TriggerReceived"
    headers, payload = _validator(doc, message + "/headers"), _validator(doc, message + "/payload")
    assert headers.is_valid(sent.headers())
    assert payload.is_valid(json.loads(sent.body()))
    assert not headers.is_valid({**sent.headers(), "ce_type": "ReplySent"})
    assert not headers.is_valid({k: v for k, v in sent.headers().items() if k != "tenant_id"})
    assert not payload.is_valid({**json.loads(sent.body()), "trigger_id": 7})
