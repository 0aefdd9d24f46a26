"""The stored form of executions: JSON-text fields, the outbox as one text, first node runs."""

from __future__ import annotations

import json
from typing import Any

from executor.adapters.execution_documents import (
    EMBEDDED_RUNS_MAX_CHARS,
    embed_first_runs,
    loaded,
    state_fields,
    state_of,
    stored,
)
from executor.domain.interpreter import ExecutionState


def test_a_new_executions_first_runs_go_into_its_document_unless_too_large() -> None:
    def stored(first: int, last: int, size: int = 10) -> dict[str, Any]:
        runs = [{"seq": s, "pad": "x" * size} for s in range(first, last + 1)]
        return {"seq": first, "last_seq": last, "runs_json": json.dumps(runs)}

    doc: dict[str, Any] = {}
    assert embed_first_runs(doc, [stored(1, 2), stored(3, 3)]) == []
    assert [r["seq"] for r in json.loads(doc["first_runs_json"])] == [1, 2, 3]
    assert doc["first_runs_last_seq"] == 3

    large = [stored(1, 2, size=EMBEDDED_RUNS_MAX_CHARS)]
    doc = {}
    assert embed_first_runs(doc, large) == large  # to node_runs: not carried in every write
    assert "first_runs_json" not in doc


def test_the_outbox_is_written_as_one_text_and_read_back_as_entries() -> None:
    entries = [{"topic": "t", "key": "k", "headers": {"ce_id": "1"}, "value": '{"a.b":1}'}]
    doc = {"_id": "exe_1", "outbox": entries}
    written = stored(doc)
    assert "outbox" not in written and json.loads(written["outbox_json"]) == entries
    assert doc["outbox"] == entries  # the planned document is not changed by its write
    assert loaded(written) == doc
    assert loaded({"_id": "exe_2"}) == {"_id": "exe_2", "outbox": []}


def test_engine_state_and_variables_are_stored_as_text() -> None:
    assert state_of({"state_json": None}) is None
    state = ExecutionState.from_dict(
        {"context": {"variables": {"workflow": {"$key": 1}}}, "status": "running"}
    )
    fields = state_fields(state, {"workflow": {"a.b": 1}})
    assert set(fields) == {"state_json", "variables_json"}
    assert json.loads(fields["variables_json"]) == {"workflow": {"a.b": 1}}
    again = state_of(fields)
    assert again is not None and again.to_dict() == state.to_dict()
    assert set(state_fields(state)) == {"state_json"}  # a cancel keeps the variables it had
