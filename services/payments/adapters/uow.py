"""payments' unit of work on the shared one: its transactions hand out bound repositories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from services.payments.adapters.orders import MongoOrderReplica
from services.payments.adapters.payments import KEPT_PAYMENT, MongoPaymentRepository
from services.payments.domain import Payment
from shared import messaging
from shared.events import Event
from shared.idempotency.mongo import MongoResults
from shared.mongo import Database

T = TypeVar("T")


class MongoTransaction:
    """``ports.Transaction``: the shared transaction, with payments' repositories on its session."""

    def __init__(self, tx: messaging.Transaction, db: Database) -> None:
        self._tx = tx
        self.orders = MongoOrderReplica(db, tx.session)
        self.payments = MongoPaymentRepository(db, tx.session)
        self.kept: MongoResults[Payment] = MongoResults(db, KEPT_PAYMENT, session=tx.session)

    async def emit(self, *events: Event) -> None:
        await self._tx.emit(*events)

    async def claim(self, message_id: str) -> bool:
        return await self._tx.claim(message_id)


class MongoUnitOfWork:
    """``ports.UnitOfWork`` over ``shared.messaging.UnitOfWork`` (outbox and inbox included)."""

    def __init__(self, uow: messaging.UnitOfWork, db: Database) -> None:
        self._uow = uow
        self._db = db

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[MongoTransaction]:
        async with self._uow.begin() as tx:
            yield MongoTransaction(tx, self._db)

    async def run(self, work: Callable[[MongoTransaction], Awaitable[T]]) -> T:
        return await self._uow.run(lambda tx: work(MongoTransaction(tx, self._db)))
