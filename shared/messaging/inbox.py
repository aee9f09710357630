"""The inbox: processed message ids, so a consumer applies each message once."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from shared.mongo import Database, Session

COLLECTION = "inbox"
# Duplicates come from broker redeliveries and outbox re-publishes, minutes apart;
# two weeks of memory is generous and keeps the collection small.
RETENTION_S = 14 * 24 * 3600


class Inbox:
    """Records ``"{consumer}:{message_id}"`` in the caller's transaction."""

    def __init__(self, db: Database, consumer: str) -> None:
        self._collection = db[COLLECTION]
        self._consumer = consumer

    async def ensure_indexes(self) -> None:
        """``_id`` is unique already; expire old records."""
        await self._collection.create_index(
            "processed_at", name="processed_ttl", expireAfterSeconds=RETENTION_S
        )

    async def claim(self, message_id: str, *, session: Session) -> bool:
        """Record the message as processed; False when it already was.

        After False write nothing more in this transaction and abort it: on MongoDB
        a duplicate-key error has already doomed the transaction
        (``UnitOfWork`` does this for you).
        """
        key = f"{self._consumer}:{message_id}"
        # Looking first avoids raising (and, on mongod, aborting) in the common
        # duplicate case; the unique _id still decides a race.
        if await self._collection.find_one({"_id": key}, {"_id": 1}, session=session):
            return False
        try:
            await self._collection.insert_one(
                {
                    "_id": key,
                    "consumer": self._consumer,
                    "message_id": message_id,
                    "processed_at": datetime.now(UTC),
                },
                session=session,
            )
        except DuplicateKeyError:
            return False
        return True
