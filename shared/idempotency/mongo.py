"""Idempotency results in the service's ``idempotency`` collection (the ``Results`` port)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pymongo.errors import DuplicateKeyError

from shared.errors import Conflict
from shared.idempotency import RETENTION_S, IdempotencyKey, IdempotencyKeyReused
from shared.mongo import Database, Document, Session

T = TypeVar("T")


async def create_indexes(db: Database) -> None:
    await db.idempotency.create_index("created_at", name="expires", expireAfterSeconds=RETENTION_S)


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """How a service keeps a result: the document it is stored as, and back."""

    dump: Callable[[T], Document]
    load: Callable[[Document], T]


class MongoResults(Generic[T]):
    """``Results`` in MongoDB, bound to one transaction's ``session``."""

    def __init__(self, db: Database, snapshot: Snapshot[T], *, session: Session) -> None:
        self._records = db.idempotency
        self._snapshot = snapshot
        self._session = session

    async def recall(self, key: IdempotencyKey) -> T | None:
        record = await self._records.find_one({"_id": key.record_id}, session=self._session)
        if record is None:
            return None
        if record["fingerprint"] != key.fingerprint:
            raise IdempotencyKeyReused()
        return self._snapshot.load(record["result"])

    async def remember(self, key: IdempotencyKey, result: T) -> None:
        try:
            await self._records.insert_one(
                {
                    "_id": key.record_id,
                    "fingerprint": key.fingerprint,
                    "result": self._snapshot.dump(result),
                    "created_at": datetime.now(UTC),
                },
                session=self._session,
            )
        except DuplicateKeyError:
            # The other request committed first; re-running finds its result.
            raise Conflict() from None
