"""MongoDB through PyMongo's async API: settings, the client resource, transactions.

Motor is deprecated; ``pymongo.AsyncMongoClient`` is the driver. ``open_mongo`` opens the
client and runs the service's own ``setup`` callback (its indexes); a service opens it in
the background task that opens its dependencies (``shared.web.startup``, through
``shared.backends.open_backends``). Writes that must commit together go through
``Mongo.transaction()``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from shared.config import Env
from shared.errors import Conflict

log = logging.getLogger(__name__)

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Session = AsyncClientSession

# Server codes that mean "another writer got there first": WriteConflict and
# the transaction-aborted family. mongoeco reports a commit conflict with no
# code, only this text.
_CONFLICT_CODES = {112, 251, 244}
_CONFLICT_TEXT = "write conflict"


@dataclass(frozen=True)
class MongoSettings:
    url: str
    database: str
    server_selection_timeout_ms: int = 5000
    # mongoeco (the wire server tests and `make up` use) lets any write that overlaps an
    # open transaction fail that transaction's commit, and a failed commit keeps its
    # writes. Serializing a process's writes around transactions avoids both; a real
    # MongoDB needs none of it.
    serialize_writes: bool = False

    @classmethod
    def from_env(cls, env: Env, *, default_database: str) -> MongoSettings:
        url = env.str("MONGO_URL")
        return cls(
            url=url,
            database=database_from_url(url) or default_database,
            server_selection_timeout_ms=env.int("MONGO_TIMEOUT_MS", 5000, minimum=100),
            serialize_writes=env.bool("MONGO_SERIALIZE_WRITES", False),
        )


def database_from_url(url: str) -> str | None:
    """The database named in the URL's path (``mongodb://h/orders`` → ``orders``)."""
    path = urlsplit(url).path.strip("/")
    return path or None


def is_write_conflict(exc: BaseException) -> bool:
    """True when the error means a concurrent writer won and a retry may succeed."""
    # A lost connection inside a transaction is labelled transient too, but it is an
    # outage, not a conflict: it must surface as one (503), not as a 409 worth retrying.
    if not isinstance(exc, PyMongoError) or isinstance(exc, ConnectionFailure):
        return False
    if exc.has_error_label("TransientTransactionError"):
        return True
    if isinstance(exc, OperationFailure) and exc.code in _CONFLICT_CODES:
        return True
    return _CONFLICT_TEXT in str(exc).lower()


class Mongo:
    """One client and the service's database."""

    def __init__(
        self, client: AsyncMongoClient[Document], database: str, *, serialize_writes: bool = False
    ) -> None:
        self.client = client
        self.db: Database = client[database]
        self._write_lock = asyncio.Lock() if serialize_writes else None

    @classmethod
    def connect(cls, settings: MongoSettings) -> Mongo:
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            settings.url,
            tz_aware=True,
            serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        )
        return cls(client, settings.database, serialize_writes=settings.serialize_writes)

    async def ping(self) -> None:
        await self.db.command("ping")

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """Hold the process's write lock when writes are serialized (mongoeco); else nothing.

        Not reentrant: never call it inside ``transaction()``.
        """
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """A session inside a transaction: committed on clean exit, aborted on error.

        A write conflict (at write time on mongod, at commit on mongoeco) is raised as
        ``Conflict`` so callers see one kind of error whatever the server.
        """
        async with self.exclusive(), self.client.start_session() as session:
            try:
                async with await session.start_transaction():
                    yield session
            except PyMongoError as exc:
                if is_write_conflict(exc):
                    raise Conflict() from exc
                raise

    async def close(self) -> None:
        await self.client.close()


Setup = Callable[[Database], Awaitable[None]]


@asynccontextmanager
async def open_mongo(settings: MongoSettings, setup: Setup | None = None) -> AsyncIterator[Mongo]:
    """Open the client, run ``setup`` (indexes), close on exit."""
    mongo = Mongo.connect(settings)
    try:
        if setup is not None:
            await setup(mongo.db)
        log.info("connected to mongodb database %s", settings.database)
        yield mongo
    finally:
        await mongo.close()
