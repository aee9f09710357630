"""The ticket replica in MongoDB: copies of the tickets service's tickets, and who holds each.

``held_by`` is the id of the order that holds the ticket (None when free). It changes only
in the transaction that changes that order's status, so it always agrees with the orders;
the conditional update on it is what makes reservation atomic. A ticket added to the
replica (by ``ticket.created``, or by a snapshot during a rebuild) takes it from the orders
themselves, never from the tickets service.
"""

from __future__ import annotations

from collections.abc import Iterable

from bson import ObjectId
from pymongo import ReturnDocument

from services.orders.domain import Ticket
from shared.events import OrderStatus
from shared.mongo import Database, Document, Session


def ticket_from_doc(doc: Document) -> Ticket:
    return Ticket(
        id=str(doc["_id"]),
        title=doc["title"],
        price_cents=doc["price_cents"],
        version=doc["version"],
        seller_id=doc.get("seller_id"),
    )


def _object_id(ticket_id: str) -> ObjectId | None:
    return ObjectId(ticket_id) if ObjectId.is_valid(ticket_id) else None


async def find_ticket(
    db: Database, ticket_id: str, session: Session | None, *, held: bool = False
) -> Ticket | None:
    """The ticket (with ``held``: only if an order holds it)."""
    key = _object_id(ticket_id)
    if key is None:
        return None
    query: Document = {"_id": key, "held_by": {"$ne": None}} if held else {"_id": key}
    doc = await db.tickets.find_one(query, session=session)
    return ticket_from_doc(doc) if doc else None


async def tickets_by_ids(
    db: Database, ticket_ids: Iterable[str], session: Session | None = None
) -> dict[str, Ticket]:
    keys = [ObjectId(i) for i in set(ticket_ids)]
    cursor = db.tickets.find({"_id": {"$in": keys}}, session=session)
    return {str(doc["_id"]): ticket_from_doc(doc) async for doc in cursor}


class MongoTicketReplica:
    """``ports.TicketReplica`` in one transaction's session."""

    def __init__(self, db: Database, session: Session) -> None:
        self._db = db
        self._tickets = db.tickets
        self._session = session

    async def _holder(self, ticket_id: str) -> str | None:
        # The one order of ours that has not let go of the ticket (Order.holds_ticket).
        holder = await self._db.orders.find_one(
            {"ticket_id": ticket_id, "status": {"$ne": OrderStatus.CANCELLED.value}},
            projection={"_id": 1},
            session=self._session,
        )
        return str(holder["_id"]) if holder else None

    async def add(self, ticket: Ticket) -> bool:
        # An upsert, not an insert: a duplicate must not fail (and abort) the transaction.
        result = await self._tickets.update_one(
            {"_id": ObjectId(ticket.id)},
            {
                "$setOnInsert": {
                    "title": ticket.title,
                    "price_cents": ticket.price_cents,
                    "version": ticket.version,
                    "seller_id": ticket.seller_id,
                    "held_by": await self._holder(ticket.id),
                }
            },
            upsert=True,
            session=self._session,
        )
        return result.upserted_id is not None

    async def get(self, ticket_id: str) -> Ticket | None:
        return await find_ticket(self._db, ticket_id, self._session)

    async def apply_version(self, ticket: Ticket, *, over: int | None = None) -> bool:
        held = ticket.version - 1 if over is None else over
        result = await self._tickets.update_one(
            {"_id": ObjectId(ticket.id), "version": held},
            {
                "$set": {
                    "title": ticket.title,
                    "price_cents": ticket.price_cents,
                    "version": ticket.version,
                    "seller_id": ticket.seller_id,
                }
            },
            session=self._session,
        )
        return result.matched_count == 1

    async def hold(self, ticket_id: str, order_id: str) -> Ticket | None:
        key = _object_id(ticket_id)
        if key is None:
            return None
        doc = await self._tickets.find_one_and_update(
            {"_id": key, "held_by": None},
            {"$set": {"held_by": order_id}},
            return_document=ReturnDocument.AFTER,
            session=self._session,
        )
        return ticket_from_doc(doc) if doc else None

    async def release(self, ticket_id: str, order_id: str) -> None:
        await self._tickets.update_one(
            {"_id": ObjectId(ticket_id), "held_by": order_id},
            {"$set": {"held_by": None}},
            session=self._session,
        )
