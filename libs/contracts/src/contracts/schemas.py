"""Export the JSON Schemas of every event, of the workflow definition and of the body a
tenant's webhook endpoint receives.

``python -m contracts.schemas DIR`` writes them; ``--check`` exits 1 when DIR is stale.
The public events are a published API: these files are how other systems read it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from contracts.events import EVENT_TYPES
from contracts.webhooks import WebhookEvent
from contracts.workflow import WorkflowDefinition


def render() -> dict[str, str]:
    """File name -> JSON text, for every schema we publish."""
    models = {name: model for name, model in EVENT_TYPES.items()}
    files = {
        f"{name}.json": json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n"
        for name, model in models.items()
    }
    files["WorkflowDefinition.json"] = (
        json.dumps(WorkflowDefinition.model_json_schema(), indent=2, sort_keys=True) + "\n"
    )
    files["WebhookEvent.json"] = (  # what tenants' webhook endpoints receive
        json.dumps(WebhookEvent.model_json_schema(), indent=2, sort_keys=True) + "\n"
    )
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if the files are not current")
    args = parser.parse_args(argv)
    files = render()
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (args.directory / name).exists() or (args.directory / name).read_text() != text
        ]
        extra = sorted(p.name for p in args.directory.glob("*.json") if p.name not in files)
        if stale or extra:
            print(
                f"schemas out of date: {stale + extra}; run `make schemas` and commit",
                file=sys.stderr,
            )
            return 1
        return 0
    args.directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.directory / name).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
