"""The transactional outbox and its relay (architecture §5).

A use case writes its entity and an ``outbox`` document in one MongoDB transaction;
the relay publishes the document after the commit and then deletes it. A relay
that is woken by ``notify()`` right after a commit gives no polling delay on the
happy path; a periodic sweep publishes whatever a crash left behind.

The relay works in batches: one indexed read of the oldest unpublished entries, one
``update_many`` by ``_id`` that leases the chosen ones (a claim token says which this relay
won when another relay raced it), up to ``IN_FLIGHT`` publishes awaiting their confirms at
once, then one ``delete_many`` by ``_id`` for the published ones. Every query is served by an
index on a real MongoDB; on the mongoeco stand-in, which scans a collection for anything but
one ``_id``, deleting published entries at once (rather than keeping them a day for a TTL
index) keeps the collection, and so every scan and insert, small.

Publishing is at-least-once: a crash between the publish and the delete re-publishes the
entry with the same message id, so every consumer must take a message twice without harm.
Each does it its own way: tickets records the message id in its inbox
(``Transaction.claim``) and drops a repeat; orders and payments check the versions and
statuses of their replicas, so a repeat changes nothing; expiration's job id is the
order's, so a repeat schedules nothing new.

The events of one subject (an order, a ticket) leave in the order they were written: an
entry waits while an older one of its subject is unpublished, whether a crashed relay
still holds that one's lease or its publish failed. Within a batch, the entries of one
subject are published one after the other, each after the broker confirmed the one before;
the first that fails (or that another relay won) holds back the rest of its subject.
Without this, a relay that died holding ``order.created`` would let the ``order.cancelled``
written after it go first, and consumers would see an order cancelled before it existed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import PyMongoError

from shared import tracing
from shared.events import Event, encode
from shared.messaging.publisher import Publisher, PublishFailed
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from shared.mongo import Database, Session

log = logging.getLogger(__name__)

COLLECTION = "outbox"
# Entries published by versions that marked instead of deleting carry ``published_at``;
# the TTL index drops them after this long.
PUBLISHED_RETENTION_S = 24 * 3600
# Longer than a publish can take (Publisher's 10 s timeout), short enough that a
# crashed replica's claims are picked up again soon.
DEFAULT_LEASE_S = 30.0
# Entries leased (and then published) per round of a pass.
BATCH = 500
# The oldest unpublished entries read per round to choose the batch from: more than a
# batch, so that entries held back behind an older one of their subject do not starve
# the others.
WINDOW = 2 * BATCH
# Publishes awaiting the broker's confirm at once (recipes §1: 100 in flight publish six
# times faster than one at a time).
IN_FLIGHT = 64


@dataclass(frozen=True)
class OutboxEntry:
    """One event waiting to be published."""

    message_id: str
    routing_key: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    subject: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _entry(doc: dict[str, Any]) -> OutboxEntry:
    body = doc["body"]
    return OutboxEntry(
        message_id=doc["_id"],
        routing_key=doc["routing_key"],
        body=body.encode() if isinstance(body, str) else bytes(body),
        headers=dict(doc.get("headers") or {}),
        created_at=doc.get("created_at"),
        subject=doc.get("subject"),
    )


def free_to_go(window: Sequence[dict[str, Any]], now: datetime, limit: int) -> list[dict[str, Any]]:
    """The entries of ``window`` (the oldest unpublished ones, oldest first) that may be
    leased now, at most ``limit``, oldest first.

    An entry may go when its lease has run out and no older entry of its subject is still
    unpublished. The window is a prefix of all unpublished entries in ``created_at`` order,
    so every older entry of a subject seen in it is in it too: one read decides.
    """
    held: set[str] = set()  # subjects with an older entry that cannot go now
    chosen: list[dict[str, Any]] = []
    for doc in window:
        subject = doc.get("subject")  # None: written before entries had subjects
        if subject is not None and subject in held:
            continue
        if _aware(doc["lease_until"]) > now:  # another relay holds it, or a retry waits
            if subject is not None:
                held.add(subject)
            continue
        chosen.append(doc)
        if len(chosen) == limit:
            break
    return chosen


@dataclass
class Settled:
    """What became of a batch: the entries published (deleted), failed (out of reach for
    ``retry_in_s``, then retried) and held back (their lease given back at once: behind a
    failed one of their subject, which still goes first, or not started after a failure)."""

    published: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)
    retry_in_s: float = 0.0


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
        """Index the pending read, and expire entries older versions marked published."""
        await self._collection.create_index(
            [("published_at", ASCENDING), ("created_at", ASCENDING)], name="pending"
        )
        await self._collection.create_index(
            "published_at", name="published_ttl", expireAfterSeconds=PUBLISHED_RETENTION_S
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

    async def claim_batch(
        self,
        limit: int = BATCH,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        settling: Settled | None = None,
        hinted: Collection[str] = (),
    ) -> list[OutboxEntry]:
        """Lease up to ``limit`` entries that are free to go (``free_to_go``), oldest first.

        The entries of one subject in the batch are consecutive in that subject's order,
        starting at its oldest unpublished one: publish them in the order given, and stop a
        subject at its first failure. ``settling``, the previous batch's outcome, is written
        under the same hold of the write lock as this claim: when writes are serialized
        (mongoeco) every hold waits behind the transactions queued for it.

        ``hinted``: ids of entries just committed. They are leased while the window is
        read, not after: one round trip before the publish instead of two. The window
        still decides whether they may go; those it holds back are given back.
        """
        settling = settling or Settled()
        now = _now()
        token = uuid.uuid4().hex
        until = now + timedelta(seconds=lease_s)

        async def settle_and_lease_hinted() -> set[str]:
            async with self._exclusive():
                await self._settle(settling)
                return await self._lease(list(hinted), now, until, token)

        window, won = await asyncio.gather(self._window(), settle_and_lease_hinted())
        # Those published are gone once settled; the failed and held back keep their
        # leases (they run out later), which holds back their subjects. The hinted ones
        # this relay leased just now are free to go as far as it is concerned.
        gone = set(settling.published)
        for doc in window:
            if doc["_id"] in won:
                doc["lease_until"] = now
        chosen = free_to_go([doc for doc in window if doc["_id"] not in gone], now, limit)
        if unleased := [doc["_id"] for doc in chosen if doc["_id"] not in won]:
            async with self._exclusive():
                won |= await self._lease(unleased, now, until, token)
        # A subject whose older entry someone else won must not go on here.
        lost: set[str] = set()
        batch: list[OutboxEntry] = []
        for doc in chosen:
            subject = doc.get("subject")
            if doc["_id"] in won and (subject is None or subject not in lost):
                batch.append(_entry(doc))
            elif subject is not None:
                lost.add(subject)
        taken = {entry.message_id for entry in batch}
        if given_back := [i for i in won if i not in taken]:
            await self.settle(Settled(held_back=given_back))
        return batch

    async def _window(self) -> list[dict[str, Any]]:
        """The oldest ``WINDOW`` unpublished entries, oldest first (the ``pending`` index)."""
        return (
            await self._collection.find({"published_at": None})
            .sort("created_at", ASCENDING)
            .limit(WINDOW)
            .to_list()
        )

    async def _lease(self, ids: list[str], now: datetime, until: datetime, token: str) -> set[str]:
        """Lease those of ``ids`` whose lease has run out; returns the ones this call won."""
        if not ids:
            return set()
        leased = await self._collection.update_many(
            {"_id": {"$in": ids}, "published_at": None, "lease_until": {"$lte": now}},
            {"$set": {"lease_until": until, "claim": token}},
        )
        if leased.modified_count == len(ids):
            return set(ids)
        # Another relay took some of them meanwhile (or they are gone).
        cursor = self._collection.find({"_id": {"$in": ids}, "claim": token}, projection={"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def claim_next(self, *, lease_s: float = DEFAULT_LEASE_S) -> OutboxEntry | None:
        """Lease the oldest entry that is free to go, or None."""
        batch = await self.claim_batch(1, lease_s=lease_s)
        return batch[0] if batch else None

    async def settle(self, settled: Settled) -> None:
        """Write a batch's outcome (``Settled``)."""
        async with self._exclusive():
            await self._settle(settled)

    async def _settle(self, settled: Settled) -> None:
        if settled.published:
            # Confirmed, so dropped: consumers' inboxes and replicas remember them.
            await self._collection.delete_many({"_id": {"$in": settled.published}})
        now = _now()
        for ids, until in (
            (settled.failed, now + timedelta(seconds=settled.retry_in_s)),
            (settled.held_back, now),
        ):
            if ids:
                await self._collection.update_many(
                    {"_id": {"$in": ids}, "published_at": None}, {"$set": {"lease_until": until}}
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
        created_at = _aware(oldest["created_at"])
        return count, max((_now() - created_at).total_seconds(), 0.0)


def _by_subject(batch: Sequence[OutboxEntry]) -> list[list[OutboxEntry]]:
    """The batch as runs of one subject each, in order (an entry without one runs alone)."""
    runs: dict[str, list[OutboxEntry]] = {}
    alone: list[list[OutboxEntry]] = []
    for entry in batch:
        if entry.subject is None:
            alone.append([entry])
        else:
            runs.setdefault(entry.subject, []).append(entry)
    return [*runs.values(), *alone]


class OutboxRelay:
    """Publishes outbox entries: at once when notified, and on every sweep."""

    def __init__(
        self,
        outbox: Outbox,
        publisher: Publisher,
        sweep_interval_s: float = 5.0,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        batch: int = BATCH,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._outbox = outbox
        self._publisher = publisher
        self._sweep_interval_s = sweep_interval_s
        self._lease_s = lease_s
        self._batch = batch
        self._in_flight = in_flight
        self._wake = asyncio.Event()
        self._hinted: set[str] = set()
        self._lock = asyncio.Lock()
        self._stopping = False
        self._next_observation = 0.0

    def notify(self, message_ids: Collection[str] = ()) -> None:
        """Wake the relay now (call right after a commit that added entries, with their ids,
        which the relay's next claim leases without waiting for its read)."""
        self._hinted.update(message_ids)
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
        published = 0
        settling = Settled()
        while True:
            hinted, self._hinted = self._hinted, set()
            batch = await self._outbox.claim_batch(
                self._batch, lease_s=self._lease_s, settling=settling, hinted=hinted
            )
            if not batch:
                return published
            settling = await self._publish(batch)
            published += len(settling.published)
            if settling.failed and not settling.published:
                # Nothing went through: the broker is likely down; the sweep retries.
                await self._outbox.settle(settling)
                return published

    async def _publish(self, batch: Sequence[OutboxEntry]) -> Settled:
        """Publish ``batch``, up to ``in_flight`` at once, each subject's entries in turn."""
        # Out of reach until the next sweep, so that the pass moves on to other entries
        # instead of spinning on the failed ones; what they held back waits for them.
        outcome = Settled(retry_in_s=self._sweep_interval_s)
        slots = asyncio.Semaphore(self._in_flight)

        async def publish_run(run: list[OutboxEntry]) -> None:
            for index, entry in enumerate(run):
                async with slots:
                    # After a failure the broker may be gone: what has not started waits
                    # for the next round, so that a batch takes about one publish timeout
                    # (10 s), not one per wave of publishes, well inside its lease.
                    if outcome.failed:
                        outcome.held_back.extend(e.message_id for e in run[index:])
                        return
                    ok = await self._publish_one(entry)
                if not ok:
                    outcome.failed.append(entry.message_id)
                    outcome.held_back.extend(e.message_id for e in run[index + 1 :])
                    return
                outcome.published.append(entry.message_id)

        await asyncio.gather(*(publish_run(run) for run in _by_subject(batch)))
        return outcome

    async def _publish_one(self, entry: OutboxEntry) -> bool:
        try:
            await self._publisher.publish(
                entry.routing_key,
                entry.body,
                message_id=entry.message_id,
                headers=entry.headers or None,
            )
        except PublishFailed as exc:
            log.warning(
                "outbox entry %s (%s) not published, will retry: %s",
                entry.message_id,
                entry.routing_key,
                exc,
            )
            return False
        log.info("outbox entry %s (%s) published", entry.message_id, entry.routing_key)
        return True
