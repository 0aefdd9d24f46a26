"""`connectflo`: validate and preview workflows exactly as the builder saves them.

    connectflo validate WORKFLOW.json
    connectflo preview WORKFLOW.json --trigger-type "Incoming Message" --payload '{"text": "hi"}' \
        [--customer JSON] [--variables JSON] [--mock NODE_ID=JSON ...]
    connectflo catalogue [--output docs/node-catalogue.md]

`validate` prints every problem (one per line) and exits 1 when any is an error. `preview` runs
the workflow in-process (see `executor.preview`) and prints one JSON object; it exits 1 when the
workflow does not compile, 0 otherwise (a failed run is reported in the JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from executor.domain.catalogue_doc import render_catalogue
from executor.domain.interpreter import NoMatchingTrigger, WorkflowInvalid, compile_workflow
from executor.domain.validation import Severity, validate_workflow
from executor.preview import preview_context, run_preview


def _json_argument(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from error


def _json_object(text: str) -> dict[str, Any]:
    value = _json_argument(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _mock(text: str) -> tuple[str, Any]:
    node_id, separator, raw = text.partition("=")
    if not separator or not node_id:
        raise argparse.ArgumentTypeError("a mock is NODE_ID=JSON")
    return node_id, _json_argument(raw)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="connectflo", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="report every problem of a workflow")
    validate.add_argument("workflow", type=Path)
    validate.add_argument("--json", action="store_true", help="print the problems as JSON")
    preview = commands.add_parser("preview", help="run a workflow with mocked effects")
    preview.add_argument("workflow", type=Path)
    preview.add_argument("--trigger-type", required=True)
    preview.add_argument("--payload", type=_json_object, default={})
    preview.add_argument("--customer", type=_json_object, default=None)
    preview.add_argument("--variables", type=_json_object, default=None)
    preview.add_argument("--mock", type=_mock, action="append", default=[])
    catalogue = commands.add_parser("catalogue", help="write the node catalogue (Markdown)")
    catalogue.add_argument("--output", type=Path, help="file to write (default: stdout)")
    return parser


def _catalogue(arguments: argparse.Namespace) -> int:
    text = render_catalogue()
    if arguments.output is None:
        sys.stdout.write(text)
    else:
        arguments.output.write_text(text, encoding="utf-8")
    return 0


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as file:
        return json.load(file)


def _validate(arguments: argparse.Namespace) -> int:
    problems = validate_workflow(_load(arguments.workflow))
    if arguments.json:
        print(json.dumps([problem.to_dict() for problem in problems], indent=2))
    else:
        for problem in problems:
            print(problem)
        errors = sum(problem.severity is Severity.ERROR for problem in problems)
        print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    return 1 if any(problem.severity is Severity.ERROR for problem in problems) else 0


def _preview(arguments: argparse.Namespace) -> int:
    try:
        workflow = compile_workflow(_load(arguments.workflow))
    except WorkflowInvalid as invalid:
        for problem in invalid.errors:
            print(problem, file=sys.stderr)
        return 1
    mocks: dict[str, list[Any]] = defaultdict(list)
    for node_id, answer in arguments.mock:
        mocks[node_id].append(answer)
    started = datetime.now(UTC)
    context = preview_context(
        workflow,
        trigger_type=arguments.trigger_type,
        payload=arguments.payload,
        customer=arguments.customer,
        variables=arguments.variables,
        started_at=started,
    )
    try:
        report = asyncio.run(
            run_preview(workflow, context, mocks=mocks, now=lambda: datetime.now(UTC))
        )
    except NoMatchingTrigger as error:
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    commands = {"validate": _validate, "preview": _preview, "catalogue": _catalogue}
    try:
        return commands[arguments.command](arguments)
    except (OSError, json.JSONDecodeError) as error:
        print(f"cannot read or write a file: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
