"""Payments in MongoDB: one record per PaymentIntent, one kept payment per order."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.payments.domain import Payment, PaymentStatus, Unpayable
from shared.errors import Conflict
from shared.idempotency.mongo import Snapshot
from shared.mongo import Database, Document, Session

KEPT = PaymentStatus.SUCCEEDED.value


async def create_indexes(db: Database) -> None:
    # The database's last word on double charges, whatever races above it: a
    # PaymentIntent is recorded once, and an order keeps one payment.
    await db.payments.create_index("stripe_id", unique=True, name="one_record_per_intent")
    await db.payments.create_index(
        "order_id",
        unique=True,
        partialFilterExpression={"status": KEPT},
        name="one_kept_payment_per_order",
    )
    await db.payments.create_index([("status", 1), ("next_refund_at", 1)], name="refunds_due")


def _to_doc(payment: Payment) -> Document:
    return {
        "_id": ObjectId(payment.id),
        "order_id": payment.order_id,
        "stripe_id": payment.stripe_id,
        "amount_cents": payment.amount_cents,
        "status": payment.status.value,
        "refund_reason": payment.refund_reason.value if payment.refund_reason else None,
        "refund_id": payment.refund_id,
        "refund_attempts": payment.refund_attempts,
        "next_refund_at": payment.next_refund_at,
    }


def _from_doc(doc: Document) -> Payment:
    reason = doc.get("refund_reason")
    return Payment(
        id=str(doc["_id"]),
        order_id=doc["order_id"],
        stripe_id=doc["stripe_id"],
        amount_cents=doc.get("amount_cents", 0),
        status=PaymentStatus(doc["status"]),
        refund_reason=Unpayable(reason) if reason else None,
        refund_id=doc.get("refund_id"),
        refund_attempts=doc.get("refund_attempts", 0),
        next_refund_at=doc.get("next_refund_at"),
    )


def _kept_snapshot(payment: Payment) -> Document:
    """What an idempotent repeat needs of a kept payment."""
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "stripe_id": payment.stripe_id,
        "amount_cents": payment.amount_cents,
    }


def _kept_from_snapshot(snapshot: Document) -> Payment:
    return Payment(
        id=snapshot["id"],
        order_id=snapshot["order_id"],
        stripe_id=snapshot["stripe_id"],
        amount_cents=snapshot.get("amount_cents", 0),
    )


# A kept payment as the idempotency store keeps it for repeats of a keyed request.
KEPT_PAYMENT: Snapshot[Payment] = Snapshot(dump=_kept_snapshot, load=_kept_from_snapshot)


class MongoPaymentRepository:
    """``ports.PaymentRepository`` on MongoDB; with ``session``, inside that transaction."""

    def __init__(self, db: Database, session: Session | None = None) -> None:
        self._payments = db.payments
        self._session = session

    async def add(self, payment: Payment) -> None:
        try:
            await self._payments.insert_one(_to_doc(payment), session=self._session)
        except DuplicateKeyError:
            # A racer recorded this intent or this order's payment first; a re-run
            # of the unit of work sees its record and decides again.
            raise Conflict(f"payment for order {payment.order_id} recorded concurrently") from None

    async def save(self, payment: Payment, *, was: PaymentStatus) -> None:
        doc = _to_doc(payment)
        del doc["_id"]
        result = await self._payments.update_one(
            {"_id": ObjectId(payment.id), "status": was.value},
            {"$set": doc},
            session=self._session,
        )
        if result.matched_count == 0:
            raise Conflict(f"payment {payment.id} is no longer {was.value}")

    async def for_intent(self, intent_id: str) -> Payment | None:
        doc = await self._payments.find_one({"stripe_id": intent_id}, session=self._session)
        return _from_doc(doc) if doc else None

    async def kept_for(self, order_id: str) -> Payment | None:
        doc = await self._payments.find_one(
            {"order_id": order_id, "status": KEPT}, session=self._session
        )
        return _from_doc(doc) if doc else None

    async def of_order(self, order_id: str) -> list[Payment]:
        cursor = self._payments.find({"order_id": order_id}, session=self._session).sort("_id", 1)
        return [_from_doc(doc) async for doc in cursor]

    async def refunds_due(self, now: datetime, *, limit: int) -> list[Payment]:
        cursor = (
            self._payments.find(
                {"status": PaymentStatus.REFUNDING.value, "next_refund_at": {"$lte": now}},
                session=self._session,
            )
            .sort("next_refund_at", 1)
            .limit(limit)
        )
        return [_from_doc(doc) async for doc in cursor]
