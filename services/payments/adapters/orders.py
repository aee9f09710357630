"""The order replica in MongoDB, keyed by the orders service's id. Writes state the version."""

from __future__ import annotations

from services.payments.domain import Order
from shared.errors import Conflict
from shared.events import OrderStatus
from shared.mongo import Database, Document, Session


def _to_doc(order: Order) -> Document:
    return {
        "user_id": order.user_id,
        "price_cents": order.price_cents,
        "expires_at": order.expires_at,
        "status": order.status.value,
        "version": order.version,
    }


def _from_doc(doc: Document) -> Order:
    return Order(
        id=doc["_id"],
        user_id=doc["user_id"],
        price_cents=doc["price_cents"],
        status=OrderStatus(doc["status"]),
        version=doc["version"],
        paid_by=doc.get("paid_by"),
        expires_at=doc.get("expires_at"),
    )


class MongoOrderReplica:
    """``ports.OrderReplica`` on MongoDB; with ``session``, inside that transaction."""

    def __init__(self, db: Database, session: Session | None = None) -> None:
        self._orders = db.orders
        self._session = session

    async def get(self, order_id: str) -> Order | None:
        doc = await self._orders.find_one({"_id": order_id}, session=self._session)
        return _from_doc(doc) if doc else None

    async def add_if_absent(self, order: Order) -> bool:
        result = await self._orders.update_one(
            {"_id": order.id},
            {"$setOnInsert": {**_to_doc(order), "paid_by": order.paid_by}},
            upsert=True,
            session=self._session,
        )
        return result.upserted_id is not None

    async def save(self, order: Order) -> None:
        result = await self._orders.update_one(
            {"_id": order.id, "version": order.version - 1},
            {"$set": _to_doc(order)},
            session=self._session,
        )
        if result.matched_count == 0:
            raise Conflict(f"order {order.id} changed after version {order.version - 1}")

    async def keep_payment(self, order: Order) -> None:
        result = await self._orders.update_one(
            {"_id": order.id, "version": order.version, "paid_by": None},
            {"$set": {"paid_by": order.paid_by}},
            session=self._session,
        )
        if result.matched_count == 0:
            raise Conflict(f"order {order.id} changed while keeping payment {order.paid_by}")

    async def take_snapshot(self, order: Order, *, over: int) -> bool:
        # _to_doc has no paid_by: the payment the order keeps is ours, kept as it is.
        result = await self._orders.update_one(
            {"_id": order.id, "version": over}, {"$set": _to_doc(order)}, session=self._session
        )
        return result.matched_count == 1
