"""The Postgres client's pure parts: the statement it accepts, how values come back and how a
refusal reads (tests-e2e/test_postgres.py runs the client against a real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from uuid import UUID

import psycopg
import pytest
from integrations.domain.operations import IntegrationError
from integrations.providers.postgres import _error, _json_safe, _masked, _statement
from psycopg.types.json import Jsonb

DSN = "postgresql://app:s3cret-CANARY@db.example.com:5432/shop"


def test_values_come_back_json_safe() -> None:
    assert _json_safe(
        {
            "n": Decimal("120.50"),
            "at": dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC),
            "day": dt.date(2026, 11, 30),
            "raw": b"\x01\x02",
            "ref": UUID("6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"),
            "wait": dt.timedelta(hours=1),
            "nan": float("nan"),
            "tags": ("a", 1),
        }
    ) == {
        "n": "120.50",
        "at": "2026-11-30T10:00:00+00:00",
        "day": "2026-11-30",
        "raw": "AQI=",
        "ref": "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab",
        "wait": "1:00:00",
        "nan": "nan",
        "tags": ["a", 1],
    }


def test_a_statement_binds_its_values_and_objects_as_jsonb() -> None:
    query, values = _statement({"query": "select $1, $2", "params": [{"a": 1}, "x"]})
    assert query == "select $1, $2" and isinstance(values[0], Jsonb) and values[1] == "x"
    for bad in ({"query": " "}, {"query": "select 1", "params": {"a": 1}}, {"query": "a\x00"}):
        with pytest.raises(IntegrationError) as raised:
            _statement(bad)
        assert raised.value.error_type == "Invalid"


def test_the_password_is_masked_in_every_form() -> None:
    said = f"could not use {DSN}; password=s3cret-CANARY; postgresql://u:other@h/db"
    masked = _masked(said, DSN)
    assert "CANARY" not in masked and "other" not in masked and "password=****" in masked


@pytest.mark.parametrize(
    ("said", "kind"),
    [
        ('FATAL: password authentication failed for user "app"', "Unauthorized"),
        ('FATAL: role "nobody" does not exist', "Unauthorized"),
        ('FATAL: no pg_hba.conf entry for host "10.0.0.1"', "Unauthorized"),
        ('FATAL: database "nodb" does not exist', "NotFound"),
        ("Connection refused. Is the server running on that host?", "Unavailable"),
    ],
)
def test_a_failed_connect_is_typed_by_what_the_server_said(said: str, kind: str) -> None:
    error = _error(psycopg.OperationalError(f"connection failed: {said}"), DSN)
    assert error.error_type == kind and str(error).startswith("Postgres: connection failed")
