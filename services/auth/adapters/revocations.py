"""Where sign-outs go: auth's ``revoked_sessions`` collection and, in the same transaction,
a ``session.revoked`` event in auth's outbox for every other service."""

from __future__ import annotations

from shared.auth import RevocationStore, RevokedSessions
from shared.events import SessionRevoked
from shared.messaging import Transaction, UnitOfWork


class MongoRevocationLog:
    """``ports.RevocationLog``: the store and the outbox in one transaction, then at once
    in this replica's denylist."""

    def __init__(self, uow: UnitOfWork, store: RevocationStore, denylist: RevokedSessions) -> None:
        self._uow = uow
        self._store = store
        self._denylist = denylist

    async def revoke(self, event: SessionRevoked) -> None:
        async def work(tx: Transaction) -> None:
            await self._store.add(event, session=tx.session)
            await tx.emit(event)

        await self._uow.run(work)
        # This replica refuses the token at once; the others within a refresh interval.
        self._denylist.add(event.jti, self._store.until(event.exp))


class InMemoryRevocationLog:
    def __init__(self) -> None:
        self.revoked: list[SessionRevoked] = []

    async def revoke(self, event: SessionRevoked) -> None:
        self.revoked.append(event)
