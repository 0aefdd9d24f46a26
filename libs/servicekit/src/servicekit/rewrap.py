"""Move every sealed secret in the database to the current KEK (servicekit.sealing: rotation).

    CONNECTFLO_KEKS="new:<...>,old:<...>" python -m servicekit.rewrap [--dry-run]

Every collection is walked; any embedded document in the sealed format (``Sealed.to_document``)
under another KEK than the first one is re-wrapped: its data key is unwrapped with the old KEK
and wrapped with the new one, the ciphertext and fingerprint stay as they are, so no service
needs to restart and nothing is decrypted. Each change is written only if the secret is still
the one read (the filter names its ciphertext), so a secret replaced meanwhile is left alone,
sealed as its writer sealed it. When it prints 0 left, the old KEK can be removed."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.sealing import FORMAT_VERSION, Keyring, Sealed, SealingError
from servicekit.settings import ServiceSettings

Document = dict[str, Any]
_SEALED_FIELDS = {"v", "kid", "key", "nonce", "ct", "fp", "sealed_at"}


def sealed_values(value: Any, path: str = "") -> Iterator[tuple[str, Document]]:
    """Every sealed secret inside ``value``, with its dotted path (array items by index)."""
    if isinstance(value, dict):
        if set(value) == _SEALED_FIELDS and value.get("v") == FORMAT_VERSION:
            yield path, value
            return
        for key, item in value.items():
            yield from sealed_values(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from sealed_values(item, f"{path}.{index}")


@dataclass
class Tally:
    seen: int = 0
    rewrapped: int = 0
    current: int = 0
    unreadable: int = 0  # under a KEK not configured here, or altered: left as they are
    raced: int = 0  # replaced between read and write: left as their writer sealed them


async def rewrap_database(
    db: AsyncDatabase[Document], keyring: Keyring, *, dry_run: bool = False
) -> Tally:
    tally = Tally()
    for name in sorted(await db.list_collection_names()):
        collection = db[name]
        async for doc in collection.find({}):
            for path, stored in sealed_values({k: v for k, v in doc.items() if k != "_id"}):
                tally.seen += 1
                try:
                    sealed = Sealed.from_document(stored)
                    if not keyring.needs_rewrap(sealed):
                        tally.current += 1
                        continue
                    moved = keyring.rewrap(sealed)
                except SealingError:
                    tally.unreadable += 1
                    continue
                if dry_run:
                    tally.rewrapped += 1
                    continue
                written = await collection.update_one(
                    {"_id": doc["_id"], f"{path}.ct": stored["ct"], f"{path}.kid": stored["kid"]},
                    {"$set": {path: moved.to_document()}},
                )
                if written.modified_count:
                    tally.rewrapped += 1
                else:
                    tally.raced += 1
    return tally


async def _main(dry_run: bool) -> int:
    keyring = Keyring.from_environment()
    if keyring is None:
        print("no KEK: set CONNECTFLO_KEKS or CONNECTFLO_KEK_FILE (new KEK first)", file=sys.stderr)
        return 2
    settings = ServiceSettings()
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongo_uri)
    try:
        tally = await rewrap_database(client[settings.mongo_database], keyring, dry_run=dry_run)
    finally:
        await client.close()
    left = tally.seen - tally.current - (0 if dry_run else tally.rewrapped)
    verb = "would re-wrap" if dry_run else "re-wrapped"
    print(
        f"{tally.seen} sealed secrets: {verb} {tally.rewrapped} to KEK {keyring.sealing_kid!r}, "
        f"{tally.current} already under it, {tally.unreadable} unreadable here, "
        f"{tally.raced} replaced meanwhile; {left} left under other KEKs"
    )
    return 0 if tally.unreadable == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.rewrap", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="count, write nothing")
    args = parser.parse_args(argv)
    return asyncio.run(_main(args.dry_run))


if __name__ == "__main__":
    raise SystemExit(main())
