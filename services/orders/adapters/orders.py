"""Orders in MongoDB, read with their ticket embedded. Every write states the version it expects."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from services.orders.adapters.tickets import MongoTicketReplica, ticket_from_doc
from services.orders.domain import Order, Ticket
from shared.errors import Conflict
from shared.events import OrderStatus
from shared.mongo import Database, Document, Session


async def create_indexes(db: Database) -> None:
    await db.orders.create_index([("user_id", 1), ("_id", 1)], name="user_orders")
    # The overdue sweep asks for `created` orders by expiry.
    await db.orders.create_index([("status", 1), ("expires_at", 1)], name="status_expiry")


def _to_doc(order: Order) -> Document:
    return {
        "_id": ObjectId(order.id),
        "user_id": order.user_id,
        "status": order.status,
        "expires_at": order.expires_at,
        "ticket_id": order.ticket.id,
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
        },
    }


def order_from_snapshot(doc: Document) -> Order:
    return _from_doc(doc, ticket_from_doc(doc["ticket"]))


class MongoOrderRepository:
    def __init__(self, db: Database, tickets: MongoTicketReplica) -> None:
        self._orders = db.orders
        self._buyers = db.buyers
        self._tickets = tickets

    async def add(self, order: Order, *, session: Session) -> None:
        await self._orders.insert_one(_to_doc(order), session=session)

    async def get(self, order_id: str, *, session: Session | None = None) -> Order | None:
        if not ObjectId.is_valid(order_id):
            return None
        doc = await self._orders.find_one({"_id": ObjectId(order_id)}, session=session)
        if doc is None:
            return None
        ticket = await self._tickets.get(doc["ticket_id"], session=session)
        if ticket is None:
            raise LookupError(f"order {order_id} refers to unknown ticket {doc['ticket_id']}")
        return _from_doc(doc, ticket)

    async def of_user(self, user_id: str) -> list[Order]:
        """The user's orders, oldest first, each with its ticket as it is now."""
        docs = [doc async for doc in self._orders.find({"user_id": user_id}).sort("_id", 1)]
        tickets = await self._tickets.by_ids(doc["ticket_id"] for doc in docs)
        return [_from_doc(doc, tickets[doc["ticket_id"]]) for doc in docs]

    async def count_open(self, user_id: str, *, session: Session) -> int:
        """How many of the user's orders hold a ticket unpaid (status ``created``)."""
        return await self._orders.count_documents(
            {"user_id": user_id, "status": OrderStatus.CREATED}, session=session
        )

    async def lock_buyer(self, user_id: str, *, session: Session) -> None:
        """Write the buyer's own document in this transaction.

        Two concurrent orders of one buyer then conflict (one re-runs), so the count each
        takes of the buyer's open orders cannot be stale when it decides.
        """
        await self._buyers.update_one(
            {"_id": user_id}, {"$inc": {"orders_placed": 1}}, upsert=True, session=session
        )

    async def overdue_ids(self, before: datetime, *, limit: int) -> list[str]:
        """Ids of `created` orders that expired before ``before``, the most overdue first."""
        cursor = (
            self._orders.find(
                {"status": OrderStatus.CREATED, "expires_at": {"$lt": before}},
                projection={"_id": 1},
            )
            .sort("expires_at", 1)
            .limit(limit)
        )
        return [str(doc["_id"]) async for doc in cursor]

    async def save(self, order: Order, *, session: Session) -> None:
        """Store ``order`` (the next version) if nobody saved since the version before it."""
        result = await self._orders.update_one(
            {"_id": ObjectId(order.id), "version": order.version - 1},
            {"$set": {"status": order.status, "version": order.version}},
            session=session,
        )
        if result.matched_count == 0:
            raise Conflict(f"order {order.id} changed after version {order.version - 1}")
