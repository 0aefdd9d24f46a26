"""How an execution and its node runs are stored: the documents and their JSON-text fields.

Customer payloads may have keys with '.' or '$' and nested arrays, which MongoDB field names
(and FerretDB) refuse, so the trigger, the engine state, the variables, the outbox and node
runs are kept as JSON text (docs/architecture.md, *Collections*). FerretDB also spends its time
per document and per field, another reason to keep what nobody queries in one text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.events import TriggerReceived
from contracts.watchdog import BUCKET_SECONDS, WATCHED, bucket_of, watch_key

from executor.domain.interpreter import ExecutionState, NodeRun

Document = dict[str, Any]
EMBEDDED_RUNS_MAX_CHARS = 32_000


def new_execution(
    *,
    execution_id: str,
    tenant_id: str,
    workflow: Document,
    version: int,
    trigger_id: str,
    trigger_json: str,
    conversation_id: str | None,
    channel: str | None,
    **extra: Any,
) -> Document:
    """A created execution, not yet started (``state_json`` None)."""
    created = datetime.now(UTC)
    return {
        "_id": execution_id,
        "tenant_id": tenant_id,
        "workflow_id": workflow["_id"],
        "workflow_version": version,
        "trigger_id": trigger_id,
        "trigger_type": workflow["trigger_type"],
        "conversation_id": conversation_id,
        "channel": channel,
        "trigger_json": trigger_json,
        "status": "created",
        "created_at": created,
        "updated_at": created,
        "started_at": None,
        "state_json": None,
        "total_nodes": 0,
        "executed_nodes": 0,
        "failed_nodes": 0,
        "version": 0,
        "outbox": [],
        **extra,
    }


def addresses_of(trigger: TriggerReceived) -> Document:
    """The conversation's addresses a channel's message came with (the customer's, the
    tenant's): kept on the execution, so its replies name them and the notifier needs no read
    of the conversation to address them."""
    message = trigger.message
    if message is None or not message.tenant_address:
        return {}
    return {"contact_address": message.contact_address, "tenant_address": message.tenant_address}


def trigger_text(
    trigger: TriggerReceived,
    *,
    customer: Document | None = None,
    conversation: Document | None = None,
    tenant: Document | None = None,
    payload: Document | None = None,
    resources: Document | None = None,
) -> str:
    """What an execution starts from: the trigger's payload (or ``payload``: the message's
    with its classification), the customer (the trigger's, over the contact's profile), the
    conversation and tenant variables read when it was created (``scopes``) and the
    workflow's resources loaded then."""
    started: Document = {
        "payload": trigger.payload if payload is None else payload,
        "customer": customer if customer is not None else trigger.customer,
        "scopes": {"conversation": conversation or {}, "global": tenant or {}},
    }
    if resources:
        started["resources"] = resources
    return json.dumps(
        started,
        separators=(",", ":"),
        default=str,
    )


def child_trigger_text(parent: Mapping[str, Any], workflow_input: dict[str, Any]) -> str:
    """A child execution's trigger: its parent's, with the Execute Workflow node's input and
    the conversation and tenant variables as the parent has them now."""
    state = state_of(parent)
    variables = {} if state is None else state.context.get("variables", {})
    scopes = {s: variables.get(s) or {} for s in ("conversation", "global")}
    return json.dumps(
        {**trigger_of(parent), "input": workflow_input, "scopes": scopes}, default=str
    )


def trigger_of(doc: Mapping[str, Any]) -> Document:
    trigger: Document = json.loads(doc["trigger_json"])
    return trigger


def engine_context(doc: Mapping[str, Any], started: datetime) -> Document:
    """What the engine starts from: the execution, its trigger and the workflow's input."""
    trigger = trigger_of(doc)
    conversation = doc.get("conversation_id")
    scopes = trigger.get("scopes") or {}
    return {
        "execution": {
            "id": doc["_id"],
            "workflowId": doc["workflow_id"],
            "tenantId": doc["tenant_id"],
            "startedAt": started.isoformat(),
            "conversationId": conversation,
            "parentExecutionId": (doc.get("parent") or {}).get("execution_id"),
        },
        "trigger": {
            "type": doc["trigger_type"],
            "source": trigger.get("payload", {}),
            "conversationId": conversation,
            "channel": doc.get("channel"),
        },
        "variables": {
            "workflow": trigger.get("input") or {},
            "conversation": dict(scopes.get("conversation") or {}),
            "global": dict(scopes.get("global") or {}),
        },
        "customer": trigger.get("customer"),
        "resources": dict(trigger.get("resources") or {}),
    }


def state_of(doc: Mapping[str, Any]) -> ExecutionState | None:
    """The engine state; None while the execution has not started."""
    text = doc.get("state_json")
    return None if text is None else ExecutionState.from_dict(json.loads(text))


def state_fields(state: ExecutionState, variables: Document | None = None) -> Document:
    """The fields that store ``state`` (and the variables the history API shows)."""
    fields = {"state_json": json.dumps(state.to_dict(), separators=(",", ":"), default=str)}
    if variables is not None:
        fields["variables_json"] = json.dumps(variables, default=str)
    return fields


def error_text(error: dict[str, Any] | None) -> str | None:
    return None if error is None else str(error.get("message") or error)


def node_run_record(doc: Mapping[str, Any], seq: int, run: NodeRun) -> Document:
    """One node run as the history shows it (and NodesStepped and the metrics read it)."""
    return {
        "_id": f"{doc['_id']}:{seq:06d}",
        "execution_id": doc["_id"],
        "tenant_id": doc["tenant_id"],
        "workflow_id": doc["workflow_id"],
        "seq": seq,
        "node_id": run.node_id,
        "label": run.label,
        "kind": run.kind,
        "status": str(run.status),
        "port": run.port,
        "activation": run.activation,
        "effect_id": run.effect_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_ms": round((run.finished_at - run.started_at).total_seconds() * 1000, 3),
        "input": run.input,
        "output": run.output,
        "error": error_text(run.error),
        "error_detail": run.error,
        "missing_paths": list(run.missing_paths),
    }


def node_runs_document(runs: list[Document]) -> Document:
    """The node runs of one command as one document, the runs themselves as JSON text:
    nobody queries inside a run. ``_id`` is the first run's, so a redelivered command adds
    nothing; the history reads runs by (execution_id, seq..last_seq)."""
    first, last = runs[0], runs[-1]
    return {
        "_id": first["_id"],
        "execution_id": first["execution_id"],
        "tenant_id": first["tenant_id"],
        "workflow_id": first["workflow_id"],
        "seq": first["seq"],
        "last_seq": last["seq"],
        "runs_json": json.dumps(runs, default=_json_value, separators=(",", ":")),
    }


def embed_first_runs(doc: Document, documents: list[Document]) -> list[Document]:
    """Put a new execution's first node-run documents into the execution document itself
    (``first_runs_json``, runs up to ``first_runs_last_seq``), written in the same insert;
    those too large to carry in every later write of the execution are returned, to go to
    ``node_runs`` as usual. The history reads both places."""
    texts = [d["runs_json"] for d in documents]
    if not texts or sum(len(t) for t in texts) > EMBEDDED_RUNS_MAX_CHARS:
        return documents
    doc["first_runs_json"] = "[" + ",".join(t[1:-1] for t in texts) + "]"
    doc["first_runs_last_seq"] = documents[-1]["last_seq"]
    return []


def stored(doc: Document, bucket_seconds: int = BUCKET_SECONDS) -> Document:
    """The outbox is kept as one JSON text: it is dozens of fields (headers) per event. The
    watchdog's fields are derived here, so every write keeps them true."""
    written = dict(doc)
    written["outbox_json"] = json.dumps(written.pop("outbox", []), separators=(",", ":"))
    written.update(watch_fields(doc, bucket_seconds))
    return written


def watch_fields(doc: Mapping[str, Any], bucket_seconds: int) -> Document:
    """``watch``: status and the slot of its last write while not final; ``watch_deadline``:
    the slot of its waiting time limit while it waits (contracts.watchdog)."""
    status = doc.get("status")
    last = doc.get("updated_at") or doc.get("created_at")
    if status not in WATCHED or last is None:
        return {"watch": None, "watch_deadline": None}
    deadline = doc.get("wait_deadline_at") if status == "waiting" else None
    return {
        "watch": watch_key(status, bucket_of(last, bucket_seconds)),
        "watch_deadline": None if deadline is None else bucket_of(deadline, bucket_seconds),
    }


def loaded(doc: Document | None) -> Document | None:
    if doc is not None:
        doc["outbox"] = json.loads(doc.pop("outbox_json", None) or "[]")
        doc.pop("watch", None)  # derived again at every write
        doc.pop("watch_deadline", None)
    return doc


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)
