"""Unit of work: one MongoDB transaction that carries the entity, its events and the inbox."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Generic, TypeVar

from shared.errors import Conflict
from shared.events import Event
from shared.messaging.outcome import one_attempt
from shared.mongo import Mongo, Session

if TYPE_CHECKING:
    from shared.messaging.inbox import Inbox
    from shared.messaging.outbox import Outbox, OutboxRelay


T = TypeVar("T")
B = TypeVar("B")

# Re-runs of a unit of work that lost a write race, and the first backoff ceiling.
CONFLICT_ATTEMPTS = 8
CONFLICT_BACKOFF_S = 0.005


class Transaction:
    """What a use case or listener sees inside ``UnitOfWork.begin()``."""

    def __init__(self, session: Session, outbox: Outbox, inbox: Inbox | None) -> None:
        self.session = session
        self._outbox = outbox
        self._inbox = inbox
        self.emitted: list[str] = []
        self.discarded = False

    async def emit(self, *events: Event, headers: Mapping[str, str] | None = None) -> list[str]:
        """Add ``events`` to the outbox in this transaction; returns their message ids."""
        ids = await self._outbox.add(events, session=self.session, headers=headers)
        self.emitted.extend(ids)
        return ids

    async def claim(self, message_id: str) -> bool:
        """Record ``message_id`` as processed; False (and the transaction is dropped) if it was."""
        if self._inbox is None:
            raise RuntimeError("this unit of work has no inbox")
        claimed = await self._inbox.claim(message_id, session=self.session)
        if not claimed:
            # Nothing may be committed for a duplicate; on mongod the failed insert
            # has already aborted the transaction server-side.
            self.discarded = True
        return claimed


class UnitOfWork:
    """Opens transactions whose events are published right after they commit."""

    def __init__(
        self,
        mongo: Mongo,
        outbox: Outbox,
        relay: OutboxRelay | None = None,
        inbox: Inbox | None = None,
    ) -> None:
        self._mongo = mongo
        self._outbox = outbox
        self._relay = relay
        self._inbox = inbox

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Transaction]:
        """Commit on clean exit (then wake the relay), abort on error.

        A concurrent writer surfaces as ``shared.errors.Conflict`` (from
        ``Mongo.transaction``); consumers retry it after a delay.
        """
        async with self._mongo.transaction() as session:
            tx = Transaction(session, self._outbox, self._inbox)
            yield tx
            if tx.discarded and session.in_transaction:
                await session.abort_transaction()
        if tx.emitted and not tx.discarded and self._relay is not None:
            self._relay.notify(tx.emitted)

    async def run(
        self, work: Callable[[Transaction], Awaitable[T]], *, attempts: int = CONFLICT_ATTEMPTS
    ) -> T:
        """Run ``work`` in a transaction, re-running it from the start on ``Conflict``.

        A conflict means someone else committed first; re-reading and re-deciding is
        always safe because nothing of the failed attempt was committed. On mongod only
        writers of the same document conflict; mongoeco treats any two overlapping
        transactions as conflicting, so the jittered backoff matters there.
        """
        for attempt in range(1, attempts + 1):
            try:
                # A conflicted attempt's notes (a duplicate it saw) go with its writes.
                with one_attempt():
                    async with self.begin() as tx:
                        return await work(tx)
            except Conflict:
                if attempt == attempts:
                    raise
                await asyncio.sleep(random.uniform(0, CONFLICT_BACKOFF_S * 2**attempt))
        raise AssertionError("unreachable")


class BoundUnitOfWork(Generic[B]):
    """A service's unit of work on this one: each transaction comes as ``bind(tx)``, the
    service's repositories already on its session, so no use case passes a session around."""

    def __init__(self, uow: UnitOfWork, bind: Callable[[Transaction], B]) -> None:
        self._uow = uow
        self._bind = bind

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[B]:
        async with self._uow.begin() as tx:
            yield self._bind(tx)

    async def run(self, work: Callable[[B], Awaitable[T]]) -> T:
        """``work`` in a transaction, re-run from the start on a conflict (``UnitOfWork.run``)."""
        return await self._uow.run(lambda tx: work(self._bind(tx)))
