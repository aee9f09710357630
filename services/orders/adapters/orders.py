"""Orders in MongoDB, read with their ticket embedded. Every write states the version it expects."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from services.orders.adapters.tickets import find_ticket, ticket_from_doc, tickets_by_ids
from services.orders.domain import (
    Order,
    OrderForSnapshot,
    OrderState,
    Ticket,
    TicketNotReplicated,
)
from shared.errors import Conflict
from shared.events import OrderStatus
from shared.idempotency.mongo import Snapshot
from shared.mongo import Database, Document, Session


async def create_indexes(db: Database) -> None:
    await db.orders.create_index([("user_id", 1), ("_id", 1)], name="user_orders")
    # The overdue sweep asks for `created` orders by expiry.
    await db.orders.create_index([("status", 1), ("expires_at", 1)], name="status_expiry")
    # A ticket added to the replica asks which order holds it.
    await db.orders.create_index([("ticket_id", 1), ("status", 1)], name="ticket_holder")


def _to_doc(order: Order) -> Document:
    return {
        "_id": ObjectId(order.id),
        "user_id": order.user_id,
        "status": order.status.value,
        "expires_at": order.expires_at,
        "ticket_id": order.ticket.id,
        # The price it was placed at, for its snapshots while the ticket replica is rebuilt.
        "price_cents": order.ticket.price_cents,
        "version": order.version,
    }


def _from_doc(doc: Document, ticket: Ticket) -> Order:
    return Order(
        id=str(doc["_id"]),
        user_id=doc["user_id"],
        status=OrderStatus(doc["status"]),
        expires_at=doc["expires_at"],
        ticket=ticket,
        version=doc["version"],
    )


def order_snapshot(order: Order) -> Document:
    """The order as it is now, ticket included, to hand back unchanged later."""
    ticket = order.ticket
    return {
        **_to_doc(order),
        "ticket": {
            "_id": ObjectId(ticket.id),
            "title": ticket.title,
            "price_cents": ticket.price_cents,
            "version": ticket.version,
            # Snapshots from before it was kept have none; ticket_from_doc reads them as None.
            "seller_id": ticket.seller_id,
        },
    }


def order_from_snapshot(doc: Document) -> Order:
    return _from_doc(doc, ticket_from_doc(doc["ticket"]))


# How an order placed under an idempotency key is remembered (the form is stored: keep it).
ORDER_SNAPSHOT = Snapshot(dump=order_snapshot, load=order_from_snapshot)


async def _find_doc(db: Database, order_id: str, session: Session | None) -> Document | None:
    if not ObjectId.is_valid(order_id):
        return None
    return await db.orders.find_one({"_id": ObjectId(order_id)}, session=session)


async def _find(db: Database, order_id: str, session: Session | None) -> Order | None:
    doc = await _find_doc(db, order_id, session)
    if doc is None:
        return None
    ticket = await find_ticket(db, doc["ticket_id"], session)
    if ticket is None:
        # Only while the replica is rebuilt: an order is placed only for a ticket it has.
        raise TicketNotReplicated()
    return _from_doc(doc, ticket)


async def _for_snapshots(
    db: Database, docs: list[Document], session: Session
) -> list[OrderForSnapshot]:
    # Orders stored before the price was kept take it from the replica.
    unpriced = [doc["ticket_id"] for doc in docs if "price_cents" not in doc]
    tickets = await tickets_by_ids(db, unpriced, session) if unpriced else {}
    if any(ticket_id not in tickets for ticket_id in unpriced):
        raise TicketNotReplicated()

    def price(doc: Document) -> int:
        cents = doc.get("price_cents")
        return int(cents) if cents is not None else tickets[doc["ticket_id"]].price_cents

    return [
        OrderForSnapshot(
            id=str(doc["_id"]),
            user_id=doc["user_id"],
            status=OrderStatus(doc["status"]),
            expires_at=doc["expires_at"],
            ticket_id=doc["ticket_id"],
            price_cents=price(doc),
            version=doc["version"],
        )
        for doc in docs
    ]


async def _with_tickets(
    db: Database, docs: list[Document], session: Session | None = None
) -> list[Order]:
    tickets = await tickets_by_ids(db, (doc["ticket_id"] for doc in docs), session)
    if any(doc["ticket_id"] not in tickets for doc in docs):
        raise TicketNotReplicated()
    return [_from_doc(doc, tickets[doc["ticket_id"]]) for doc in docs]


class MongoOrderRepository:
    """``ports.OrderRepository`` in one transaction's session."""

    def __init__(self, db: Database, session: Session) -> None:
        self._db = db
        self._orders = db.orders
        self._buyers = db.buyers
        self._session = session

    async def add(self, order: Order) -> None:
        await self._orders.insert_one(_to_doc(order), session=self._session)

    async def get(self, order_id: str) -> Order | None:
        return await _find(self._db, order_id, self._session)

    async def state(self, order_id: str) -> OrderState | None:
        doc = await _find_doc(self._db, order_id, self._session)
        if doc is None:
            return None
        return OrderState(
            id=str(doc["_id"]),
            status=OrderStatus(doc["status"]),
            ticket_id=doc["ticket_id"],
            version=doc["version"],
        )

    async def save(self, order: Order | OrderState) -> None:
        # Matching on the previous version is the lock: a concurrent writer that got
        # there first leaves nothing to match, and we refuse to overwrite its change.
        result = await self._orders.update_one(
            {"_id": ObjectId(order.id), "version": order.version - 1},
            {"$set": {"status": order.status.value, "version": order.version}},
            session=self._session,
        )
        if result.matched_count == 0:
            raise Conflict(f"order {order.id} changed after version {order.version - 1}")

    async def count_open(self, user_id: str) -> int:
        return await self._orders.count_documents(
            {"user_id": user_id, "status": OrderStatus.CREATED.value}, session=self._session
        )

    async def page(self, after: str | None, limit: int) -> list[OrderForSnapshot]:
        query = {"_id": {"$gt": ObjectId(after)}} if after is not None else {}
        cursor = self._orders.find(query, session=self._session).sort("_id", 1).limit(limit)
        return await _for_snapshots(self._db, [doc async for doc in cursor], self._session)

    async def lock_buyer(self, user_id: str) -> None:
        await self._buyers.update_one(
            {"_id": user_id}, {"$inc": {"orders_placed": 1}}, upsert=True, session=self._session
        )


class MongoOrderQueries:
    """``ports.OrderQueries``: reads outside any transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._orders = db.orders

    async def get(self, order_id: str) -> Order | None:
        return await _find(self._db, order_id, None)

    async def of_user(self, user_id: str) -> list[Order]:
        docs = [doc async for doc in self._orders.find({"user_id": user_id}).sort("_id", 1)]
        return await _with_tickets(self._db, docs)

    async def held_ticket(self, ticket_id: str) -> Ticket | None:
        return await find_ticket(self._db, ticket_id, None, held=True)

    async def overdue_ids(self, before: datetime, *, limit: int) -> list[str]:
        cursor = (
            self._orders.find(
                {"status": OrderStatus.CREATED.value, "expires_at": {"$lt": before}},
                projection={"_id": 1},
            )
            .sort("expires_at", 1)
            .limit(limit)
        )
        return [str(doc["_id"]) async for doc in cursor]
