"""payments' use cases: one function per action. Each takes its dependencies."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bson import ObjectId

from services.payments.adapters.orders import MongoOrderRepository
from services.payments.adapters.payments import (
    MongoPaymentRepository,
    payment_from_snapshot,
    payment_snapshot,
)
from services.payments.domain import (
    Intent,
    Order,
    Payment,
    PaymentNotCompleted,
    StripeEvent,
    Unpayable,
    VersionStep,
)
from shared.errors import NotFound, ServiceUnavailable
from shared.events import OrderCancelled, OrderCreated
from shared.idempotency import IdempotencyKey, IdempotencyStore
from shared.messaging import RetryLater, Transaction, UnitOfWork

log = logging.getLogger(__name__)

INTENT_SUCCEEDED = "payment_intent.succeeded"
INTENT_FAILED = "payment_intent.payment_failed"


class PaymentGateway(Protocol):
    """What the use cases need from Stripe (``adapters.stripe.StripeGateway``)."""

    async def charge(self, order_id: str, amount_cents: int, token: str) -> Intent: ...

    async def refund(self, intent_id: str) -> str: ...

    def parse_webhook(self, payload: bytes, signature: str | None) -> StripeEvent: ...


@dataclass(frozen=True)
class Deps:
    orders: MongoOrderRepository
    payments: MongoPaymentRepository
    stripe: PaymentGateway
    idempotency: IdempotencyStore
    uow: UnitOfWork


class OrderNotReplicatedYet(ServiceUnavailable):
    """Stripe knows an order our replica does not yet; a 503 makes Stripe resend later."""

    default_message = "Order not known yet; retry later"


async def replicate_order(event: OrderCreated, *, deps: Deps) -> None:
    """Start the replica of a new order. Replay-safe: a known order is left as it is."""
    order = Order.from_created(event)

    async def work(tx: Transaction) -> None:
        if await deps.orders.add_if_absent(order, session=tx.session):
            log.info("order %s replicated (%d cents)", order.id, order.price_cents)

    await deps.uow.run(work)


async def cancel_order(event: OrderCancelled, *, deps: Deps) -> None:
    """Mark the replica cancelled at the event's version.

    Replay-safe: a version applied already is a duplicate; one that skips a version
    (or comes before the order itself) is retried later, until it is the next one.
    """

    async def work(tx: Transaction) -> None:
        order = await deps.orders.get(event.id, session=tx.session)
        if order is None:
            raise RetryLater(f"order {event.id} cancelled before we saw it created")
        step = order.step_for(event.version)
        if step is VersionStep.EARLY:
            raise RetryLater(f"order {event.id} v{event.version} is ahead of v{order.version}")
        if step is VersionStep.SEEN:
            log.info("order %s v%d seen already", event.id, event.version)
            return
        await deps.orders.save(order.cancelled(), session=tx.session)
        log.info("order %s cancelled (v%d)", event.id, event.version)

    await deps.uow.run(work)


async def pay_for_order(
    order_id: str,
    token: str,
    user_id: str,
    *,
    idempotency: IdempotencyKey | None = None,
    deps: Deps,
) -> Payment:
    """Charge the buyer for their open order; the payment and ``payment.created``.

    A racing request for the same order ends on the same PaymentIntent (Stripe keys
    derived from the order) and so on the same payment, never a second charge. With
    an idempotency key, a repeat returns the first payment without asking Stripe.
    """
    if idempotency is not None:
        earlier = await deps.uow.run(lambda tx: _recall(tx, idempotency, deps))
        if earlier is not None:
            return earlier
    order = await deps.orders.get(order_id)
    if order is None:
        raise NotFound()
    order.check_payable(user_id, paid=await deps.payments.kept_for(order.id) is not None)
    intent = await deps.stripe.charge(order.id, order.price_cents, token)
    if not intent.succeeded:
        raise PaymentNotCompleted(f"Payment not completed (status {intent.status})")
    payment = await settle_intent(intent, idempotency=idempotency, deps=deps)
    assert payment is not None  # only a webhook event can be a duplicate
    if payment.refund_reason is not None:
        raise payment.refund_reason.error()
    return payment


async def handle_stripe_event(event: StripeEvent, *, deps: Deps) -> None:
    """Apply a verified Stripe webhook event. Replay-safe: an event id is handled once."""
    intent = event.intent
    if intent is None or intent.order_id is None:
        log.info("stripe event %s (%s) is not about our payments", event.id, event.type)
    elif event.type == INTENT_SUCCEEDED and intent.succeeded:
        await settle_intent(intent, deps=deps, stripe_event_id=event.id)
    elif event.type == INTENT_FAILED:
        # Nothing to record: the buyer got the decline (402) and may pay again.
        log.info("order %s: payment intent %s failed", intent.order_id, intent.id)


class _RefundFirst(Exception):
    """Aborts the settling transaction: the money goes back before anything is written."""

    def __init__(self, reason: Unpayable) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def settle_intent(
    intent: Intent,
    *,
    deps: Deps,
    stripe_event_id: str | None = None,
    idempotency: IdempotencyKey | None = None,
) -> Payment | None:
    """Record what a succeeded PaymentIntent took, once per intent.

    An open, unpaid order keeps it: the payment and ``payment.created`` commit together.
    An order cancelled meanwhile (or paid by another intent) gets it back: refunded at
    Stripe, then recorded as refunded, with no event, so the ticket stays with whoever
    holds it now. Replay-safe: a recorded intent returns its record. With
    ``stripe_event_id`` the webhook event is claimed in the same transaction; None
    means it was handled before. A kept payment is remembered under ``idempotency``
    in the same transaction, too.
    """
    try:
        return await deps.uow.run(lambda tx: _keep(tx, intent, stripe_event_id, idempotency, deps))
    except _RefundFirst as refusal:
        reason = refusal.reason
    # Outside any transaction: Stripe is slow next to a commit. The refund's key
    # makes this safe to repeat if we crash before the record below is written.
    refund_id = await deps.stripe.refund(intent.id)
    return await deps.uow.run(
        lambda tx: _record_refund(tx, intent, reason, refund_id, stripe_event_id, deps)
    )


async def _recall(tx: Transaction, key: IdempotencyKey, deps: Deps) -> Payment | None:
    earlier = await deps.idempotency.recall(key, session=tx.session)
    return payment_from_snapshot(earlier) if earlier is not None else None


async def _keep(
    tx: Transaction,
    intent: Intent,
    stripe_event_id: str | None,
    idempotency: IdempotencyKey | None,
    deps: Deps,
) -> Payment | None:
    if stripe_event_id is not None and not await tx.claim(f"stripe:{stripe_event_id}"):
        return None
    if idempotency is not None and (earlier := await _recall(tx, idempotency, deps)):
        return earlier
    # A racing request (or the webhook) may have recorded this intent already.
    payment = await deps.payments.for_intent(intent.id, session=tx.session)
    if payment is None:
        payment = await _record_kept(tx, intent, deps)
    if idempotency is not None and not payment.refunded:
        await deps.idempotency.remember(idempotency, payment_snapshot(payment), session=tx.session)
    return payment


async def _record_kept(tx: Transaction, intent: Intent, deps: Deps) -> Payment:
    assert intent.order_id is not None
    order = await deps.orders.get(intent.order_id, session=tx.session)
    if order is None:
        raise OrderNotReplicatedYet()
    kept = await deps.payments.kept_for(order.id, session=tx.session)
    reason = order.unpayable_because(paid=kept is not None)
    if reason is not None:
        raise _RefundFirst(reason)
    payment = Payment(id=str(ObjectId()), order_id=order.id, stripe_id=intent.id)
    await deps.payments.add(payment, session=tx.session)
    await tx.emit(payment.created_event())
    log.info("order %s paid by %s (payment %s)", order.id, intent.id, payment.id)
    return payment


async def _record_refund(
    tx: Transaction,
    intent: Intent,
    reason: Unpayable,
    refund_id: str,
    stripe_event_id: str | None,
    deps: Deps,
) -> Payment | None:
    if stripe_event_id is not None and not await tx.claim(f"stripe:{stripe_event_id}"):
        return None
    recorded = await deps.payments.for_intent(intent.id, session=tx.session)
    if recorded is not None:
        return recorded
    assert intent.order_id is not None
    refunded = Payment(
        id=str(ObjectId()),
        order_id=intent.order_id,
        stripe_id=intent.id,
        refund_id=refund_id,
        refund_reason=reason,
    )
    await deps.payments.add(refunded, session=tx.session)
    log.warning("order %s cannot take %s (%s): refunded", intent.order_id, intent.id, reason.value)
    return refunded
