"""payments' unit of work on the shared one: its transactions hand out bound repositories."""

from __future__ import annotations

from services.payments.adapters.orders import MongoOrderReplica
from services.payments.adapters.payments import KEPT_PAYMENT, MongoPaymentRepository
from services.payments.domain import Payment
from shared import messaging
from shared.events import Event
from shared.idempotency.mongo import MongoResults
from shared.mongo import Database


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


class MongoUnitOfWork(messaging.BoundUnitOfWork[MongoTransaction]):
    """``ports.UnitOfWork``: the shared unit of work (outbox and inbox included), each
    transaction with payments' repositories bound to it."""

    def __init__(self, uow: messaging.UnitOfWork, db: Database) -> None:
        super().__init__(uow, lambda tx: MongoTransaction(tx, db))
