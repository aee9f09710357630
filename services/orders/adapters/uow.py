"""orders' unit of work in MongoDB: the shared ``UnitOfWork`` (the outbox in the same
transaction), handing out the repositories bound to the transaction's session."""

from __future__ import annotations

from collections.abc import Mapping

from services.orders.adapters.orders import ORDER_SNAPSHOT, MongoOrderRepository
from services.orders.adapters.tickets import MongoTicketReplica
from services.orders.domain import Order
from shared import messaging
from shared.events import Event
from shared.idempotency.mongo import MongoResults
from shared.mongo import Database


class MongoTransaction:
    """``ports.Transaction``: the shared transaction plus orders' repositories in it."""

    def __init__(self, db: Database, tx: messaging.Transaction) -> None:
        self._tx = tx
        self.orders = MongoOrderRepository(db, tx.session)
        self.tickets = MongoTicketReplica(db, tx.session)
        self.idempotency: MongoResults[Order] = MongoResults(db, ORDER_SNAPSHOT, session=tx.session)

    async def emit(self, *events: Event, headers: Mapping[str, str] | None = None) -> list[str]:
        return await self._tx.emit(*events, headers=headers)


class MongoUnitOfWork(messaging.BoundUnitOfWork[MongoTransaction]):
    """``ports.UnitOfWork``: the shared unit of work, each transaction with orders'
    repositories bound to it."""

    def __init__(self, db: Database, uow: messaging.UnitOfWork) -> None:
        super().__init__(uow, lambda tx: MongoTransaction(db, tx))
