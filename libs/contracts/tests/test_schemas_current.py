from pathlib import Path

from contracts.schemas import main

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def test_committed_json_schemas_are_current() -> None:
    assert main([str(SCHEMAS), "--check"]) == 0, "run `make schemas` and commit docs/schemas"
