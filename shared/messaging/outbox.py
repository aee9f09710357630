"""The transactional outbox and its relay (architecture §5).

A use case writes its entity and an ``outbox`` document in one MongoDB transaction;
the relay publishes the document after the commit and marks it published. A relay
that is woken by ``notify()`` right after a commit gives no polling delay on the
happy path; a periodic sweep publishes whatever a crash left behind.

Entries are claimed with a short lease (``find_one_and_update``), so two replicas do
not publish the same entry in the normal case. Publishing is at-least-once: a crash
between the publish and the mark re-publishes the entry with the same message id, so
every consumer must take a message twice without harm. Each does it its own way: tickets
records the message id in its inbox (``Transaction.claim``) and drops a repeat; orders
and payments check the versions and statuses of their replicas, so a repeat changes
nothing; expiration's job id is the order's, so a repeat schedules nothing new.

The events of one subject (an order, a ticket) leave in the order they were written: an
entry waits while an older one of its subject is unpublished, whether a crashed relay
still holds that one's lease or its publish failed. Without this, a relay that died
holding ``order.created`` would let the ``order.cancelled`` written after it go first,
and consumers would see an order cancelled before it existed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import PyMongoError

from shared import tracing
from shared.events import Event, encode
from shared.messaging.publisher import Publisher, PublishFailed
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from shared.mongo import Database, Session

log = logging.getLogger(__name__)

COLLECTION = "outbox"
# Published entries are kept a day for inspection, then MongoDB's TTL monitor drops them.
PUBLISHED_RETENTION_S = 24 * 3600
# Longer than a publish can take (Publisher's 10 s timeout), short enough that a
# crashed replica's claims are picked up again soon.
DEFAULT_LEASE_S = 30.0
# After this many failed publishes in a row a pass ends: the broker is likely down,
# and the next sweep will try again.
MAX_FAILURES_PER_PASS = 3
# Unpublished entries looked at per claim, oldest first, for one that is free to go.
CLAIM_CANDIDATES = 50


@dataclass(frozen=True)
class OutboxEntry:
    """One event waiting to be published."""

    message_id: str
    routing_key: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _entry(doc: dict[str, Any]) -> OutboxEntry:
    body = doc["body"]
    return OutboxEntry(
        message_id=doc["_id"],
        routing_key=doc["routing_key"],
        body=body.encode() if isinstance(body, str) else bytes(body),
        headers=dict(doc.get("headers") or {}),
        created_at=doc.get("created_at"),
    )


class Outbox:
    """The ``outbox`` collection: events written in the same transaction as their entity."""

    def __init__(
        self,
        db: Database,
        *,
        exclusive: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        # Plain writes take the same lock as transactions when writes are serialized.
        self._exclusive = exclusive or contextlib.nullcontext
        self._collection = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        """Index the pending scan and expire published entries."""
        await self._collection.create_index(
            [("published_at", ASCENDING), ("created_at", ASCENDING)], name="pending"
        )
        await self._collection.create_index(
            "published_at", name="published_ttl", expireAfterSeconds=PUBLISHED_RETENTION_S
        )
        await self._collection.create_index(
            [("subject", ASCENDING), ("published_at", ASCENDING), ("created_at", ASCENDING)],
            name="pending_by_subject",
        )

    async def add(
        self,
        events: Sequence[Event],
        *,
        session: Session,
        headers: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Insert ``events`` inside the caller's transaction; returns their message ids."""
        if not events:
            return []
        now = _now()
        carried = tracing.event_headers(headers)
        docs: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            docs.append(
                {
                    "_id": uuid.uuid4().hex,
                    "routing_key": event.routing_key,
                    "subject": f"{event.routing_key.split('.')[0]}:{event.subject}",
                    "body": encode(event).decode(),
                    "headers": carried,
                    # Events of one transaction keep their order through the sort
                    # on created_at even if the clock does not move between them.
                    "created_at": now + timedelta(milliseconds=index),
                    "published_at": None,
                    "lease_until": now,
                }
            )
        await self._collection.insert_many(docs, session=session)
        return [doc["_id"] for doc in docs]

    async def claim_next(self, *, lease_s: float = DEFAULT_LEASE_S) -> OutboxEntry | None:
        """Lease the oldest entry that is free to go, or None.

        Free to go: unpublished, its lease has run out, and no older entry of its subject
        is still unpublished (that one goes first, once its lease runs out).
        """
        now = _now()
        async with self._exclusive():
            # Only what the choice needs: the winner's body comes with its claim below.
            candidates = (
                self._collection.find(
                    {"published_at": None, "lease_until": {"$lte": now}},
                    projection={"subject": 1, "created_at": 1},
                )
                .sort("created_at", ASCENDING)
                .limit(CLAIM_CANDIDATES)
            )
            waiting: set[str | None] = set()  # subjects with an older entry still to go
            async for candidate in candidates:
                subject = candidate.get("subject")
                if subject in waiting or await self._waits_for_older(candidate):
                    waiting.add(subject)
                    continue
                doc = await self._collection.find_one_and_update(
                    {"_id": candidate["_id"], "published_at": None, "lease_until": {"$lte": now}},
                    {"$set": {"lease_until": now + timedelta(seconds=lease_s)}},
                    return_document=ReturnDocument.AFTER,
                )
                if doc is not None:  # else another relay took it meanwhile
                    return _entry(doc)
        return None

    async def _waits_for_older(self, doc: dict[str, Any]) -> bool:
        if doc.get("subject") is None:  # written before entries had subjects
            return False
        older = await self._collection.find_one(
            {
                "subject": doc["subject"],
                "published_at": None,
                "created_at": {"$lt": doc["created_at"]},
            },
            projection={"_id": 1},
        )
        return older is not None

    async def mark_published(self, message_id: str) -> None:
        async with self._exclusive():
            await self._collection.update_one(
                {"_id": message_id, "published_at": None}, {"$set": {"published_at": _now()}}
            )

    async def retry_after(self, message_id: str, delay_s: float) -> None:
        """Keep the entry pending but out of reach until ``delay_s`` from now."""
        async with self._exclusive():
            await self._collection.update_one(
                {"_id": message_id, "published_at": None},
                {"$set": {"lease_until": _now() + timedelta(seconds=delay_s)}},
            )

    async def backlog(self) -> tuple[int, float]:
        """How many entries wait, and the age in seconds of the oldest (0.0 when none)."""
        count = await self._collection.count_documents({"published_at": None})
        if count == 0:
            return 0, 0.0
        oldest = await self._collection.find_one(
            {"published_at": None}, sort=[("created_at", ASCENDING)]
        )
        if oldest is None or oldest.get("created_at") is None:
            return count, 0.0
        created_at: datetime = oldest["created_at"]
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        return count, max((_now() - created_at).total_seconds(), 0.0)


class OutboxRelay:
    """Publishes outbox entries: at once when notified, and on every sweep."""

    def __init__(
        self,
        outbox: Outbox,
        publisher: Publisher,
        sweep_interval_s: float = 5.0,
        *,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._sweep_interval_s = sweep_interval_s
        self._lease_s = lease_s
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._stopping = False
        self._next_observation = 0.0

    def notify(self) -> None:
        """Wake the relay now (call right after a commit that added entries)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask ``run()`` to return after its current pass (cancelling it works too)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Publish pending entries until ``stop()``: after each notify and every sweep interval."""
        log.info("outbox relay running (sweep every %.1fs)", self._sweep_interval_s)
        while True:
            # Cleared before the pass, so a notify that lands during it is not lost.
            self._wake.clear()
            try:
                await self.flush()
                await self._observe_backlog()
            except PyMongoError as exc:
                log.warning("outbox pass failed, retrying on the next sweep: %r", exc)
            except Exception:
                # The relay must outlive any one bad pass, or events stop flowing.
                log.exception("outbox pass failed unexpectedly, retrying on the next sweep")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sweep_interval_s)
        log.info("outbox relay stopped")

    async def _observe_backlog(self) -> None:
        """Refresh the backlog gauges, at most once per sweep interval (two queries)."""
        now = asyncio.get_running_loop().time()
        if now < self._next_observation:
            return
        self._next_observation = now + self._sweep_interval_s
        count, oldest_age_s = await self._outbox.backlog()
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST_AGE.set(oldest_age_s)

    async def flush(self) -> int:
        """Publish everything pending now, oldest first; returns how many were published."""
        async with self._lock:
            return await self._pass()

    async def _pass(self) -> int:
        published = failures = 0
        while failures < MAX_FAILURES_PER_PASS:
            entry = await self._outbox.claim_next(lease_s=self._lease_s)
            if entry is None:
                break
            try:
                await self._publisher.publish(
                    entry.routing_key,
                    entry.body,
                    message_id=entry.message_id,
                    headers=entry.headers or None,
                )
            except PublishFailed as exc:
                failures += 1
                log.warning(
                    "outbox entry %s (%s) not published, will retry: %s",
                    entry.message_id,
                    entry.routing_key,
                    exc,
                )
                # Out of reach until the next sweep, so this pass moves on to
                # the next entry instead of spinning on this one.
                await self._outbox.retry_after(entry.message_id, self._sweep_interval_s)
                continue
            failures = 0
            await self._outbox.mark_published(entry.message_id)
            published += 1
            log.info("outbox entry %s (%s) published", entry.message_id, entry.routing_key)
        return published
