"""The order replica in MongoDB, keyed by the orders service's id. Writes state the version."""

from __future__ import annotations

from services.payments.domain import Order
from shared.errors import Conflict
from shared.mongo import Database, Document, Session


def _to_doc(order: Order) -> Document:
    return {
        "user_id": order.user_id,
        "price_cents": order.price_cents,
        "expires_at": order.expires_at,
        "status": order.status,
        "version": order.version,
    }


def _from_doc(doc: Document) -> Order:
    return Order(
        id=doc["_id"],
        user_id=doc["user_id"],
        price_cents=doc["price_cents"],
        status=doc["status"],
        version=doc["version"],
        paid_by=doc.get("paid_by"),
        expires_at=doc.get("expires_at"),
    )


class MongoOrderRepository:
    def __init__(self, db: Database) -> None:
        self._orders = db.orders

    async def add_if_absent(self, order: Order, *, session: Session) -> bool:
        """Store a new replica; False (and nothing changed) when the order is known."""
        result = await self._orders.update_one(
            {"_id": order.id}, {"$setOnInsert": _to_doc(order)}, upsert=True, session=session
        )
        return result.upserted_id is not None

    async def get(self, order_id: str, *, session: Session | None = None) -> Order | None:
        doc = await self._orders.find_one({"_id": order_id}, session=session)
        return _from_doc(doc) if doc else None

    async def save(self, order: Order, *, session: Session) -> None:
        """Store ``order`` (the next version) if the replica is still at the version before."""
        result = await self._orders.update_one(
            {"_id": order.id, "version": order.version - 1},
            {"$set": _to_doc(order)},
            session=session,
        )
        if result.matched_count == 0:
            raise Conflict(f"order {order.id} changed after version {order.version - 1}")

    async def keep_payment(self, order: Order, *, session: Session) -> None:
        """Record that ``order`` keeps ``order.paid_by``, if it is still open and unpaid.

        The write (not only the read) is what makes a racing cancellation conflict.
        """
        result = await self._orders.update_one(
            {"_id": order.id, "version": order.version, "paid_by": None},
            {"$set": {"paid_by": order.paid_by}},
            session=session,
        )
        if result.matched_count == 0:
            raise Conflict(f"order {order.id} changed while keeping payment {order.paid_by}")
