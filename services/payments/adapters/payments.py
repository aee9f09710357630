"""Payments in MongoDB: one record per PaymentIntent, one kept payment per order."""

from __future__ import annotations

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from services.payments.domain import Payment, Unpayable
from shared.errors import Conflict
from shared.mongo import Database, Document, Session

KEPT = "succeeded"
REFUNDED = "refunded"


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


def _to_doc(payment: Payment) -> Document:
    return {
        "_id": ObjectId(payment.id),
        "order_id": payment.order_id,
        "stripe_id": payment.stripe_id,
        "status": REFUNDED if payment.refunded else KEPT,
        "refund_id": payment.refund_id,
        "refund_reason": payment.refund_reason.value if payment.refund_reason else None,
    }


def _from_doc(doc: Document) -> Payment:
    reason = doc.get("refund_reason")
    return Payment(
        id=str(doc["_id"]),
        order_id=doc["order_id"],
        stripe_id=doc["stripe_id"],
        refund_id=doc.get("refund_id"),
        refund_reason=Unpayable(reason) if reason else None,
    )


def payment_snapshot(payment: Payment) -> Document:
    """What an idempotent repeat needs of a kept payment."""
    return {"id": payment.id, "order_id": payment.order_id, "stripe_id": payment.stripe_id}


def payment_from_snapshot(snapshot: Document) -> Payment:
    return Payment(
        id=snapshot["id"], order_id=snapshot["order_id"], stripe_id=snapshot["stripe_id"]
    )


class MongoPaymentRepository:
    def __init__(self, db: Database) -> None:
        self._payments = db.payments

    async def add(self, payment: Payment, *, session: Session) -> None:
        try:
            await self._payments.insert_one(_to_doc(payment), session=session)
        except DuplicateKeyError:
            # A racer recorded this intent or this order's payment first; a re-run
            # of the unit of work sees its record and decides again.
            raise Conflict(f"payment for order {payment.order_id} recorded concurrently") from None

    async def for_intent(self, intent_id: str, *, session: Session | None = None) -> Payment | None:
        doc = await self._payments.find_one({"stripe_id": intent_id}, session=session)
        return _from_doc(doc) if doc else None

    async def kept_for(self, order_id: str, *, session: Session | None = None) -> Payment | None:
        """The order's payment, unless refunded."""
        doc = await self._payments.find_one({"order_id": order_id, "status": KEPT}, session=session)
        return _from_doc(doc) if doc else None
