"""Revoked sessions: the per-process denylist the ``current_user`` middleware consults, the
``revoked_sessions`` collection every API service keeps, and the loop joining the two.

Signing out writes ``(jti, user id, exp)`` to auth's collection and, in the same transaction,
a ``session.revoked`` event to auth's outbox. Every other API service consumes the event
into its own collection. Each process reloads its denylist from its own collection every
``REVOCATION_REFRESH_SECONDS``, so a request costs a dict lookup, not a database round trip,
and every replica, one started later included, learns of every revocation. See
docs/sessions.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Protocol

from pymongo.errors import DuplicateKeyError

from shared.auth.tokens import LEEWAY_S
from shared.background import every
from shared.events import SessionRevoked
from shared.messaging import Delivery, Subscription
from shared.mongo import Database, Session

COLLECTION = "revoked_sessions"


class Denylist(Protocol):
    """What the ``current_user`` middleware asks of a token id."""

    def is_revoked(self, jti: str) -> bool: ...


class RevokedSessions:
    """The in-memory denylist: token id → Unix time until which it is refused.

    An entry lapses by itself at that time: the token is refused by its expiry from then on.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}

    def is_revoked(self, jti: str) -> bool:
        until = self._until.get(jti)
        return until is not None and until > self._clock()

    def add(self, jti: str, until: float) -> None:
        self._until[jti] = max(until, self._until.get(jti, until))

    def replace(self, entries: Mapping[str, float]) -> None:
        """Swap in the collection's current entries; the lapsed ones are dropped."""
        now = self._clock()
        self._until = {jti: until for jti, until in entries.items() if until > now}

    def __len__(self) -> int:
        return len(self._until)


class RevocationStore:
    """The ``revoked_sessions`` collection: ``_id`` is the jti, ``expires_at`` the moment
    the token would be refused anyway (its ``exp`` plus the verifier's leeway)."""

    def __init__(self, db: Database, *, leeway_s: int = LEEWAY_S) -> None:
        self._collection = db[COLLECTION]
        self._leeway_s = leeway_s

    async def ensure_indexes(self) -> None:
        # MongoDB deletes an entry once it is of no use; `active` filters on the time too,
        # because the TTL monitor runs only once a minute.
        await self._collection.create_index("expires_at", name="expires_ttl", expireAfterSeconds=0)

    def until(self, exp: int) -> float:
        """Until when a token with this ``exp`` must be refused."""
        return float(exp + self._leeway_s)

    async def add(self, event: SessionRevoked, *, session: Session | None = None) -> None:
        """Record the revocation; recording it again (a replayed event) changes nothing.

        An already expired token is stored as well: the TTL index drops it, and ``active``
        never returns it.
        """
        expires_at = datetime.fromtimestamp(self.until(event.exp), UTC)
        # Two deliveries racing to insert: the other one won, which is just as good.
        with contextlib.suppress(DuplicateKeyError):
            await self._collection.update_one(
                {"_id": event.jti},
                {"$setOnInsert": {"user_id": event.user_id, "expires_at": expires_at}},
                upsert=True,
                session=session,
            )

    async def active(self, now: float | None = None) -> dict[str, float]:
        """Every entry still in force: jti → Unix time until which it is refused."""
        cutoff = datetime.fromtimestamp(time.time() if now is None else now, UTC)
        cursor = self._collection.find({"expires_at": {"$gt": cutoff}}, {"expires_at": 1})
        return {str(doc["_id"]): _as_utc(doc["expires_at"]).timestamp() async for doc in cursor}


def _as_utc(value: datetime) -> datetime:
    # pymongo hands back naive UTC datetimes unless the client is tz_aware.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def refresh(store: RevocationStore, denylist: RevokedSessions) -> None:
    denylist.replace(await store.active())


@asynccontextmanager
async def denylist_kept_fresh(
    db: Database, denylist: RevokedSessions, interval_s: float
) -> AsyncIterator[RevocationStore]:
    """Load ``denylist`` from ``db``'s collection now, then again every ``interval_s`` for
    the block, which gets the store (to record revocations in).

    The first load happens before the block, so a service is not ready (and serves no
    authenticated use case) before it knows the revocations. A failed reload keeps the
    last list and is logged; the next one tries again.
    """
    store = RevocationStore(db)
    await store.ensure_indexes()
    await refresh(store, denylist)
    async with every(interval_s, lambda: refresh(store, denylist), what="session denylist"):
        yield store


def revocation_subscription(store: RevocationStore) -> Subscription[SessionRevoked]:
    """What every API service but auth listens to: record the revocation. Replay-safe: the
    write is keyed by jti, so a duplicate delivery is a no-op and needs no inbox."""

    async def on_session_revoked(event: SessionRevoked, delivery: Delivery) -> None:
        await store.add(event)

    return Subscription(SessionRevoked, on_session_revoked)
