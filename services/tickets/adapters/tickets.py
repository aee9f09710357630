"""Tickets in MongoDB. Every write states the version it expects.

``MongoUnitOfWork`` wraps the shared ``UnitOfWork`` (outbox and inbox in the same
transaction) and hands out the repositories below bound to the transaction's session.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from services.tickets.domain import Ticket
from shared import messaging
from shared.errors import Conflict
from shared.events import Event
from shared.mongo import Database, Document, Session

# How long a cancellation is remembered: far longer than an order.created can be late
# (an order's hold is minutes; retries and a relay's lease are seconds).
CANCELLED_ORDERS_KEPT_S = 7 * 24 * 3600


async def create_indexes(db: Database) -> None:
    # The listing page asks for unreserved tickets.
    await db.tickets.create_index("order_id", name="order_id")
    await db.cancelled_orders.create_index(
        "cancelled_at", name="forget_after", expireAfterSeconds=CANCELLED_ORDERS_KEPT_S
    )


def _to_doc(ticket: Ticket) -> Document:
    return {
        "_id": ObjectId(ticket.id),
        "title": ticket.title,
        "price_cents": ticket.price_cents,
        "user_id": ticket.user_id,
        "version": ticket.version,
        "order_id": ticket.order_id,
    }


def _from_doc(doc: Document) -> Ticket:
    return Ticket(
        id=str(doc["_id"]),
        title=doc["title"],
        price_cents=doc["price_cents"],
        user_id=doc["user_id"],
        version=doc["version"],
        order_id=doc.get("order_id"),
    )


async def _find(
    tickets: AsyncCollection[Document], ticket_id: str, session: Session | None
) -> Ticket | None:
    if not ObjectId.is_valid(ticket_id):
        return None
    doc = await tickets.find_one({"_id": ObjectId(ticket_id)}, session=session)
    return _from_doc(doc) if doc else None


class MongoTicketRepository:
    """``ports.TicketRepository`` in one transaction's session."""

    def __init__(self, db: Database, session: Session) -> None:
        self._tickets = db.tickets
        self._session = session

    async def add(self, ticket: Ticket) -> None:
        await self._tickets.insert_one(_to_doc(ticket), session=self._session)

    async def get(self, ticket_id: str) -> Ticket | None:
        return await _find(self._tickets, ticket_id, self._session)

    async def save(self, ticket: Ticket) -> None:
        # Matching on the previous version is the lock: a concurrent writer that got
        # there first leaves nothing to match, and we refuse to overwrite its change.
        doc = _to_doc(ticket)
        del doc["_id"]
        result = await self._tickets.update_one(
            {"_id": ObjectId(ticket.id), "version": ticket.version - 1},
            {"$set": doc},
            session=self._session,
        )
        if result.matched_count == 0:
            raise Conflict(f"ticket {ticket.id} changed after version {ticket.version - 1}")

    async def page(self, after: str | None, limit: int) -> list[Ticket]:
        query = {"_id": {"$gt": ObjectId(after)}} if after is not None else {}
        cursor = self._tickets.find(query, session=self._session).sort("_id", 1).limit(limit)
        return [_from_doc(doc) async for doc in cursor]


class MongoCancelledOrders:
    """``ports.CancelledOrders`` in one transaction's session; forgotten after a week."""

    def __init__(self, db: Database, session: Session) -> None:
        self._cancelled = db.cancelled_orders
        self._session = session

    async def remember(self, order_id: str) -> None:
        await self._cancelled.update_one(
            {"_id": order_id},
            {"$setOnInsert": {"cancelled_at": datetime.now(UTC)}},
            upsert=True,
            session=self._session,
        )

    async def include(self, order_id: str) -> bool:
        found = await self._cancelled.find_one({"_id": order_id}, session=self._session)
        return found is not None


class MongoTransaction:
    """``ports.Transaction``: the shared transaction plus tickets' repositories in it."""

    def __init__(self, db: Database, tx: messaging.Transaction) -> None:
        self._tx = tx
        self.tickets = MongoTicketRepository(db, tx.session)
        self.cancelled_orders = MongoCancelledOrders(db, tx.session)

    async def emit(self, *events: Event, headers: Mapping[str, str] | None = None) -> list[str]:
        return await self._tx.emit(*events, headers=headers)

    async def claim(self, message_id: str) -> bool:
        return await self._tx.claim(message_id)


class MongoUnitOfWork(messaging.BoundUnitOfWork[MongoTransaction]):
    """``ports.UnitOfWork``: the shared unit of work, each transaction with tickets'
    repositories bound to it."""

    def __init__(self, db: Database, uow: messaging.UnitOfWork) -> None:
        super().__init__(uow, lambda tx: MongoTransaction(db, tx))


class MongoTicketCatalog:
    """``ports.TicketCatalog``: reads outside any transaction."""

    def __init__(self, db: Database) -> None:
        self._tickets = db.tickets

    async def get(self, ticket_id: str) -> Ticket | None:
        return await _find(self._tickets, ticket_id, None)

    async def unreserved(self) -> list[Ticket]:
        cursor = self._tickets.find({"order_id": None}).sort("_id", 1)
        return [_from_doc(doc) async for doc in cursor]
