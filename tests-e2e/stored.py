"""Node runs as the executor stores them, read straight from MongoDB: a new execution's first
runs inside its own document (`first_runs_json`), the later ones in `node_runs`, one document
per command (`runs_json`)."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any


def stored_run_seqs(db: Any, query: dict[str, Any]) -> dict[str, list[int]]:
    """Per execution matching ``query`` (on `tenant_id`, `_id`...), the seq of every stored
    run, in both places, duplicates included."""
    seqs: dict[str, list[int]] = defaultdict(list)
    for execution in db.executions.find(query, {"first_runs_json": 1}):
        runs = json.loads(execution.get("first_runs_json") or "[]")
        seqs[execution["_id"]].extend(r["seq"] for r in runs)
    runs_query = {("execution_id" if k == "_id" else k): v for k, v in query.items()}
    for stored in db.node_runs.find(runs_query):
        seqs[stored["execution_id"]].extend(r["seq"] for r in json.loads(stored["runs_json"]))
    return dict(seqs)
