"""MongoDB: one client per process (PyMongo's asyncio API), the dead-letter repository every
consumer writes, and what readiness asks of the server."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from contracts.events import DeadLettered
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

Document = dict[str, Any]
Database = AsyncDatabase[Document]


@dataclass(frozen=True, slots=True)
class Mongo:
    client: AsyncMongoClient[Document]
    db: Database

    @classmethod
    def connect(cls, uri: str, database: str, *, timeout_seconds: float = 30.0) -> Mongo:
        """Connects lazily (the first operation does); an operation that finds no reachable
        server fails after ``timeout_seconds``."""
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=int(timeout_seconds * 1000)
        )
        return cls(client, client[database])

    async def close(self) -> None:
        await self.client.close()

    async def reachable(self) -> bool:
        """The server answers a ping (the readiness check)."""
        try:
            await self.db.command("ping")
        except PyMongoError:
            return False
        return True

    async def is_ferretdb(self) -> bool:
        """FerretDB says so in buildInfo; real MongoDB does not."""
        info = await self.db.command("buildInfo")
        return "ferretdbVersion" in info


class DeadLetterRepository:
    """The ``dead_letters`` collection the management API lists (the dead-letter topic has
    every one too): one document per DeadLettered event, ``_id`` = its dead letter id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, event: DeadLettered) -> None:
        with contextlib.suppress(DuplicateKeyError):  # stored before (a redelivery)
            await self._db.dead_letters.insert_one(event.document())
