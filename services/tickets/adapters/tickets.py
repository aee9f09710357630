"""Tickets in MongoDB. Every write states the version it expects."""

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId

from services.tickets.domain import Ticket
from shared.errors import Conflict
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


class MongoTicketRepository:
    def __init__(self, db: Database) -> None:
        self._tickets = db.tickets
        self._cancelled = db.cancelled_orders

    async def add(self, ticket: Ticket, *, session: Session) -> None:
        await self._tickets.insert_one(_to_doc(ticket), session=session)

    async def get(self, ticket_id: str, *, session: Session | None = None) -> Ticket | None:
        if not ObjectId.is_valid(ticket_id):
            return None
        doc = await self._tickets.find_one({"_id": ObjectId(ticket_id)}, session=session)
        return _from_doc(doc) if doc else None

    async def unreserved(self) -> list[Ticket]:
        cursor = self._tickets.find({"order_id": None}).sort("_id", 1)
        return [_from_doc(doc) async for doc in cursor]

    async def save(self, ticket: Ticket, *, session: Session) -> None:
        """Store ``ticket`` (the next version) if nobody saved since the version before it."""
        # Matching on the previous version is the lock: a concurrent writer that got
        # there first leaves nothing to match, and we refuse to overwrite its change.
        doc = _to_doc(ticket)
        del doc["_id"]
        result = await self._tickets.update_one(
            {"_id": ObjectId(ticket.id), "version": ticket.version - 1},
            {"$set": doc},
            session=session,
        )
        if result.matched_count == 0:
            raise Conflict(f"ticket {ticket.id} changed after version {ticket.version - 1}")

    async def remember_cancelled(self, order_id: str, *, session: Session) -> None:
        """Note that ``order_id`` has ended: a late order.created of it holds nothing."""
        await self._cancelled.update_one(
            {"_id": order_id},
            {"$setOnInsert": {"cancelled_at": datetime.now(UTC)}},
            upsert=True,
            session=session,
        )

    async def was_cancelled(self, order_id: str, *, session: Session) -> bool:
        return await self._cancelled.find_one({"_id": order_id}, session=session) is not None
