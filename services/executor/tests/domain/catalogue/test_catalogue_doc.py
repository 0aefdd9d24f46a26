"""docs/node-catalogue.md is generated from the node modules and must be current."""

from pathlib import Path

from executor.domain.catalogue_doc import render_catalogue
from executor.domain.nodes.registry import CATALOGUE

COMMITTED = Path(__file__).parents[5] / "docs" / "node-catalogue.md"


def test_the_committed_catalogue_is_current():
    assert COMMITTED.read_text(encoding="utf-8") == render_catalogue(), (
        "docs/node-catalogue.md is stale: run "
        "`.venv/bin/connectflo catalogue --output docs/node-catalogue.md`"
    )


def test_every_kind_has_a_section():
    text = render_catalogue()

    for kind in CATALOGUE:
        assert f"(`{kind.name}`)" in text
