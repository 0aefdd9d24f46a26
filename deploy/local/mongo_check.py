"""Health-check the MongoDB-wire server (local FerretDB or a real MongoDB).

    .venv/bin/python deploy/local/mongo_check.py [--timeout 30]

Pings ``MONGO_URI`` (default ``mongodb://127.0.0.1:27017/``), retrying until the timeout while the
server is coming up, then does an insert/find/delete round trip in the database
``connectflo_healthcheck``. Exit status 0 on success, 1 on failure (with a message on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

from pymongo import MongoClient
from pymongo.errors import PyMongoError

DB_NAME = "connectflo_healthcheck"
COLLECTION = "roundtrip"


def redact(uri: str) -> str:
    """Hide a password in a URI before printing it."""
    if "@" not in uri or "://" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def check(uri: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000, appname="connectflo-healthcheck"
    )
    try:
        while True:
            try:
                client.admin.command("ping")
                break
            except PyMongoError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no answer to ping within {timeout}s: {exc}") from exc
                time.sleep(0.5)

        info = client.admin.command("buildInfo")
        server = f"MongoDB {info.get('version', '?')}"
        if "ferretdbVersion" in info:  # FerretDB 1.x; "unknown" when embedded like ours
            server += f" (FerretDB {info['ferretdbVersion']})"

        coll = client[DB_NAME][COLLECTION]
        token = uuid.uuid4().hex
        coll.insert_one({"_id": token, "at": time.time(), "check": "roundtrip"})
        doc = coll.find_one({"_id": token})
        if doc is None or doc.get("check") != "roundtrip":
            raise RuntimeError(f"inserted document {token} not found back: {doc!r}")
        deleted = coll.delete_one({"_id": token}).deleted_count
        if deleted != 1:
            raise RuntimeError(f"delete of {token} removed {deleted} documents")
        return server
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a ping (30)")
    args = p.parse_args(argv)
    uri = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
    started = time.monotonic()
    try:
        server = check(uri, args.timeout)
    except (PyMongoError, RuntimeError) as exc:
        print(f"mongo_check: FAILED on {redact(uri)}: {exc}", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    print(f"mongo_check: {server} at {redact(uri)}: ping + insert/find/delete OK in {took:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
