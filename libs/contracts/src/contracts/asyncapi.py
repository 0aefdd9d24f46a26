"""The AsyncAPI 3.0.0 document of every topic, generated from ``contracts.catalogue``.

Each topic is a channel (address = the topic, a Kafka binding with its partitions), each event
on it a message (payload: the event's JSON Schema, headers: the CloudEvents binary-mode
headers, a Kafka binding naming the key), each service's part an operation (send/receive).

``python -m contracts.asyncapi FILE`` writes it; ``--check`` exits 1 when FILE is stale.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from contracts.catalogue import TOPIC_EVENTS, TopicEvents
from contracts.envelope import CE_SPECVERSION
from contracts.events import EVENT_TYPES, Event
from contracts.topics import partitions_of

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
"""The version of the events API (the topics are versioned by name: ``.v1``)."""
KAFKA_BINDING = "0.5.0"
_SCHEMAS = "#/components/schemas/"

HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 in Kafka binary mode, the tenant and the W3C trace context.",
    "required": ["ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "tenant_id"],
    "properties": {
        "ce_id": {"type": "string", "description": "Unique per message (a UUID)."},
        "ce_type": {"type": "string", "description": "The event's stable type name."},
        "ce_source": {
            "type": "string",
            "description": "The sending service, e.g. `/connectflo/executor`.",
        },
        "ce_specversion": {"type": "string", "const": CE_SPECVERSION},
        "ce_time": {"type": "string", "format": "date-time"},
        "tenant_id": {"type": "string"},
        "traceparent": {
            "type": "string",
            "description": "W3C trace context: the trace this message continues, when any.",
        },
        "tracestate": {"type": "string", "description": "W3C trace state, with a traceparent."},
    },
}


def channel_id(topic: str) -> str:
    """`connectflo.executions.commands.v1` -> `executions.commands`."""
    return topic.removeprefix("connectflo.").removesuffix(".v1")


def _summary(model: type[Event]) -> str:
    return (inspect.getdoc(model) or model.event_type).split("\n\n")[0].replace("\n", " ")


def _payload_schemas() -> dict[str, Any]:
    """Every event's JSON Schema (as docs/schemas has it), the models they share hoisted into
    components/schemas beside them."""
    models = [(model, "validation") for model in EVENT_TYPES.values()]
    _, top = models_json_schema(models, ref_template=_SCHEMAS + "{model}")  # type: ignore[arg-type]
    schemas: dict[str, Any] = top["$defs"]
    missing = set(EVENT_TYPES) - set(schemas)
    if missing:  # pydantic names a schema by its class: an event named otherwise is not found
        raise RuntimeError(f"no schema named after event type(s) {sorted(missing)}")
    return schemas


def _message(entry: TopicEvents, event: type[Event]) -> dict[str, Any]:
    name = event.event_type
    return {
        "name": name,
        "title": name,
        "summary": _summary(event),
        "contentType": "application/json",
        "headers": {
            "allOf": [
                {"$ref": _SCHEMAS + "CloudEventsHeaders"},
                {"type": "object", "properties": {"ce_type": {"const": name}}},
            ]
        },
        "payload": {"$ref": _SCHEMAS + name},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": entry.key},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _channel(entry: TopicEvents) -> dict[str, Any]:
    described = "Public: a published API for other systems. " if entry.public else ""
    return {
        "address": entry.topic,
        "title": entry.topic,
        "description": f"{described}Keyed by: {entry.key}",
        "messages": {event.event_type: _message(entry, event) for event in entry.events},
        "bindings": {
            "kafka": {
                "topic": entry.topic,
                "partitions": partitions_of(entry.topic),
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _operations(entry: TopicEvents) -> dict[str, Any]:
    channel = channel_id(entry.topic)
    operations: dict[str, Any] = {}
    for flow in entry.flows:
        events = flow.events or entry.events
        verb = "sends" if flow.action == "send" else "receives"
        operations[f"{flow.service}.{flow.action}.{channel}"] = {
            "action": flow.action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{flow.service} {verb} "
            + ", ".join(e.event_type for e in events)
            + f" on {entry.topic}.",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{e.event_type}"} for e in events],
        }
    return operations


def document() -> dict[str, Any]:
    """The AsyncAPI document, as a JSON object."""
    operations: dict[str, Any] = {}
    for entry in TOPIC_EVENTS.values():
        operations.update(_operations(entry))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "ConnectFlo Flow Engine events",
            "version": DOCUMENT_VERSION,
            "description": "Every Kafka topic of the Flow Engine: its key, the events on it and "
            "the services that send and receive them. Generated from libs/contracts "
            "(`make asyncapi`); every message is CloudEvents 1.0 in binary mode: the "
            "attributes are headers, the value is the event's JSON.",
        },
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The broker `make up` starts (deploy/local/infra.sh).",
            }
        },
        "defaultContentType": "application/json",
        "channels": {channel_id(e.topic): _channel(e) for e in TOPIC_EVENTS.values()},
        "operations": operations,
        "components": {"schemas": {"CloudEventsHeaders": HEADERS, **_payload_schemas()}},
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if the file is not current")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.file.exists() or args.file.read_text() != text:
            print(f"{args.file} is out of date: run `make asyncapi` and commit", file=sys.stderr)
            return 1
        return 0
    args.file.parent.mkdir(parents=True, exist_ok=True)
    args.file.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
