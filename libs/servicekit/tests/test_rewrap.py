"""Which values the re-wrap command finds (tests-e2e/test_rewrap.py runs it on FerretDB)."""

from __future__ import annotations

import os

from servicekit.rewrap import sealed_values
from servicekit.sealing import Kek, Keyring


def test_sealed_values_are_found_at_any_depth_with_their_paths() -> None:
    keyring = Keyring([Kek("k1", os.urandom(32))])
    sealed = keyring.seal("s", tenant_id="t", purpose="p").to_document()
    doc = {
        "credentials": sealed,
        "teams": {"webhooks": [{"name": "a", "url": sealed}, {"name": "b"}]},
        "lookalike": {"v": 1, "kid": "k1"},  # not every field of a sealed value
        "name": "x",
    }
    assert [path for path, _ in sealed_values(doc)] == ["credentials", "teams.webhooks.0.url"]
