"""Idempotency keys: a request repeated with the same ``Idempotency-Key`` gets the first result.

The result is remembered in the same transaction as the write it describes, so either
both exist or neither does; a repeat then finds it instead of writing again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.errors import BadRequest, Conflict
from shared.mongo import Database, Document, Session

MAX_KEY_LENGTH = 255
# Long enough for any client retry loop; clients must not reuse a key after a day.
RETENTION_S = 24 * 60 * 60


class IdempotencyKeyReused(BadRequest):
    default_message = "Idempotency-Key was already used for a different request"


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's key, within ``scope`` (who and what), for a request with ``fingerprint``."""

    scope: str
    key: str
    fingerprint: str

    @property
    def record_id(self) -> str:
        return f"{self.scope}\n{self.key}"


def fingerprint(request: Any) -> str:
    """A digest of the request's meaning (its loaded body), independent of key order."""
    text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def create_indexes(db: Database) -> None:
    await db.idempotency.create_index("created_at", name="expires", expireAfterSeconds=RETENTION_S)


class IdempotencyStore:
    """Results of keyed requests in the service's ``idempotency`` collection."""

    def __init__(self, db: Database) -> None:
        self._records = db.idempotency

    async def recall(self, key: IdempotencyKey, *, session: Session) -> Document | None:
        """The result remembered under ``key``; 400 if the key was used for another request."""
        record = await self._records.find_one({"_id": key.record_id}, session=session)
        if record is None:
            return None
        if record["fingerprint"] != key.fingerprint:
            raise IdempotencyKeyReused()
        result: Document = record["result"]
        return result

    async def remember(self, key: IdempotencyKey, result: Document, *, session: Session) -> None:
        """Store ``result`` under ``key``; a concurrent first use of the key is a conflict."""
        try:
            await self._records.insert_one(
                {
                    "_id": key.record_id,
                    "fingerprint": key.fingerprint,
                    "result": result,
                    "created_at": datetime.now(UTC),
                },
                session=session,
            )
        except DuplicateKeyError:
            # The other request committed first; re-running finds its result.
            raise Conflict() from None
