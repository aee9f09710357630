"""payments' use cases: one function per action. Each takes its dependencies.

payments' half of the payment saga (docs/payments.md): it keeps money only for an order
that is open and unpaid in its replica, and gives back every other payment, including a
kept one whose order it later learns was cancelled. Each refund is written down as
``refunding`` before Stripe is asked, and asked again until Stripe says it is done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from services.payments.domain import (
    ActionRequired,
    Intent,
    Order,
    Payment,
    PaymentNotCompleted,
    PaymentStatus,
    StripeEvent,
    Unpayable,
)
from services.payments.metrics import UNMATCHED_WEBHOOKS
from services.payments.ports import (
    Clock,
    OrderReplica,
    PaymentGateway,
    PaymentRepository,
    Transaction,
    UnitOfWork,
)
from shared.errors import Conflict, NotAuthorized, NotFound, ServiceUnavailable
from shared.events import (
    OrderCancelled,
    OrderCreated,
    OrderSnapshot,
    OrderStatus,
    SnapshotCompleted,
)
from shared.idempotency import IdempotencyKey, run_once
from shared.messaging import RetryLater
from shared.messaging.outcome import duplicate
from shared.replica import NoRebuilds, RebuildLog, VersionStep, step, takes_snapshot

log = logging.getLogger(__name__)

INTENT_SUCCEEDED = "payment_intent.succeeded"
INTENT_FAILED = "payment_intent.payment_failed"
# Refunds retried per sweep round; the next round takes the rest.
REFUND_BATCH = 100
# How long a webhook for an order we have not heard of is answered 503 (so Stripe sends it
# again, as the order's events may be late); after that it is acknowledged and refunded.
UNMATCHED_WEBHOOK_AFTER = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    """What the use cases work with. ``orders`` and ``payments`` read outside any
    transaction; writes go through ``uow``'s transactions (``tx.orders``, ``tx.payments``)."""

    orders: OrderReplica
    payments: PaymentRepository
    stripe: PaymentGateway
    uow: UnitOfWork
    clock: Clock = utc_now
    rebuilds: RebuildLog = field(default_factory=NoRebuilds)  # the order replica's


class OrderNotReplicatedYet(ServiceUnavailable):
    """Stripe (or, while the replica is rebuilt, a buyer) knows an order our replica does
    not yet; a 503 makes Stripe resend later, and tells a buyer to try again."""

    default_message = "Order not known yet; retry later"


async def _replicated_order(order_id: str, deps: Deps) -> Order:
    """The order a request names; while the replica is rebuilt, an unknown one may just not
    be back yet: 503, not 404."""
    order = await deps.orders.get(order_id)
    if order is None:
        raise OrderNotReplicatedYet() if await deps.rebuilds.running() else NotFound()
    return order


async def replicate_order(event: OrderCreated, *, deps: Deps) -> None:
    """Start the replica of a new order. Replay-safe: a known order is left as it is."""

    async def work(tx: Transaction) -> None:
        order = await _new_replica(tx, Order.from_created(event))
        if await tx.orders.add_if_absent(order):
            log.info("order %s replicated (%d cents)", order.id, order.price_cents)
        else:
            duplicate(f"order {order.id} is replicated already")

    await deps.uow.run(work)


async def _new_replica(tx: Transaction, order: Order) -> Order:
    """``order`` new to the replica, keeping the payment our records say it keeps: none for
    a new order, but the replica may have been dropped (a rebuild) and the order paid."""
    kept = await tx.payments.kept_for(order.id)
    return replace(order, paid_by=kept.id if kept is not None else None)


async def apply_order_cancellation(event: OrderCancelled, *, deps: Deps) -> None:
    """Mark the replica cancelled at the event's version; a payment it kept goes back.

    Replay-safe: a version applied already is a duplicate; one that skips a version
    (or comes before the order itself) is retried later, until it is the next one.
    The refund is decided in the same transaction as the cancellation, and made after
    it; if that fails, ``retry_refunds`` makes it later.
    """

    async def work(tx: Transaction) -> Payment | None:
        order = await tx.orders.get(event.id)
        applies = step(order.version if order else None, event.version)
        if applies is VersionStep.EARLY or order is None:
            held = f"v{order.version}" if order else "no order yet"
            raise RetryLater(f"order {event.id} v{event.version} is early ({held})")
        if applies is VersionStep.SEEN:
            log.info("order %s v%d seen already", event.id, event.version)
            duplicate(f"order {event.id} v{event.version} is applied already")
            return None
        await tx.orders.save(order.cancelled())
        log.info("order %s cancelled (v%d)", event.id, event.version)
        return await _refund_kept(tx, order.id, deps)

    refunding = await deps.uow.run(work)
    if refunding is not None:
        await give_back(refunding, deps=deps)


async def _refund_kept(tx: Transaction, order_id: str, deps: Deps) -> Payment | None:
    """The cancelled order's kept payment, now to be refunded (None: it keeps none)."""
    kept = await tx.payments.kept_for(order_id)
    if kept is None:
        return None
    refunding = kept.to_refund(Unpayable.CANCELLED, deps.clock())
    await tx.payments.save(refunding, was=PaymentStatus.SUCCEEDED)
    log.warning("order %s was cancelled after %s paid for it: refunding", order_id, kept.id)
    return refunding


async def apply_order_snapshot(event: OrderSnapshot, *, deps: Deps) -> None:
    """Take an order's snapshot if it is newer than the replica (``takes_snapshot``), then
    count it for the rebuild that asked for it. Replay-safe: a repeat is not newer.

    The snapshot replaces orders' fields only. ``paid_by`` stays ours: kept as it is, or,
    for an order new to the replica (a rebuild dropped it), the payment our records say it
    keeps. A snapshot that shows the order cancelled gives a kept payment back, as the
    cancellation would have, so no snapshot undoes the money rule.
    """

    async def work(tx: Transaction) -> Payment | None:
        current = await tx.orders.get(event.id)
        held = current.version if current is not None else None
        if not takes_snapshot(held, event.version):
            log.info("order %s snapshot v%d ignored: have v%s", event.id, event.version, held)
            duplicate("the replica has this version or a later one")
            return None
        order = Order.from_created(event)
        taken = (
            await tx.orders.add_if_absent(await _new_replica(tx, order))
            if held is None
            else await tx.orders.take_snapshot(order, over=held)
        )
        if not taken:
            raise Conflict(f"order {event.id} changed while taking snapshot v{event.version}")
        log.info("order %s snapshot v%d taken over v%s", event.id, event.version, held)
        if order.status is OrderStatus.CANCELLED:
            return await _refund_kept(tx, order.id, deps)
        return None

    refunding = await deps.uow.run(work)
    # After the commit: a receipt always means the replica has this version or a later one.
    await deps.rebuilds.received(event.request_id, event.id)
    if refunding is not None:
        await give_back(refunding, deps=deps)


async def note_snapshots_completed(event: SnapshotCompleted, *, deps: Deps) -> None:
    """The owner published all its snapshots for a request: the rebuild waits for that many."""
    await deps.rebuilds.completed(event.request_id, event.count)


async def pay_for_order(
    order_id: str,
    token: str,
    user_id: str,
    *,
    return_url: str | None = None,
    idempotency: IdempotencyKey | None = None,
    deps: Deps,
) -> Payment | ActionRequired:
    """Charge the buyer for their open order; the payment and ``payment.created``.

    A racing request for the same order ends on the same PaymentIntent (Stripe keys
    derived from the order) and so on the same payment, never a second charge. With
    an idempotency key, a repeat returns the first payment without asking Stripe.
    Money the order turns out not to be able to keep goes back, and the buyer is told why.
    A card that wants 3-D Secure is ``ActionRequired``: nothing is taken until the buyer
    passes the challenge; then ``confirm_payment`` (or Stripe's webhook) settles it.
    """
    if idempotency is not None:
        key = idempotency
        earlier = await deps.uow.run(lambda tx: tx.kept.recall(key))
        if earlier is not None:
            return earlier
    order = await _replicated_order(order_id, deps)
    order.check_payable(user_id, deps.clock())
    intent = await deps.stripe.charge(
        order.id,
        order.price_cents,
        token,
        return_url=return_url,
        attempt=idempotency.record_id if idempotency is not None else None,
    )
    return await _settled_or_waiting(intent, idempotency=idempotency, deps=deps)


async def confirm_payment(order_id: str, user_id: str, *, deps: Deps) -> Payment | ActionRequired:
    """Finish the buyer's payment after their 3-D Secure challenge, on the server.

    Stripe's word, not the browser's: the order's PaymentIntent is read from Stripe and
    settled exactly as the synchronous path settles it (the webhook settles the same
    intent; whichever comes second finds the record). Not refused for an order that
    expired or was cancelled meanwhile: the money may be taken already, and settling
    gives it back. A challenge not answered yet is ``ActionRequired`` again; a failed
    one is PaymentNotCompleted (402) with Stripe's message, and the buyer may pay again.
    """
    order = await _replicated_order(order_id, deps)
    if order.user_id != user_id:
        raise NotAuthorized()
    intent = await deps.stripe.intent_of_order(order.id, order.price_cents)
    return await _settled_or_waiting(intent, deps=deps)


async def _settled_or_waiting(
    intent: Intent, *, idempotency: IdempotencyKey | None = None, deps: Deps
) -> Payment | ActionRequired:
    waiting = intent.action_required()
    if waiting is not None:
        return waiting
    if not intent.succeeded:
        raise PaymentNotCompleted(
            intent.error_message or f"Payment not completed (status {intent.status})"
        )
    payment = await settle_intent(intent, idempotency=idempotency, deps=deps)
    assert payment is not None  # only a webhook event can be a duplicate
    if payment.refund_reason is not None:
        raise payment.refund_reason.error()
    return payment


async def payments_of_order(order_id: str, user_id: str, *, deps: Deps) -> list[Payment]:
    """What was taken for the buyer's order, and what was given back and why."""
    order = await _replicated_order(order_id, deps)
    if order.user_id != user_id:
        raise NotAuthorized()
    return await deps.payments.of_order(order.id)


async def handle_stripe_event(event: StripeEvent, *, deps: Deps) -> None:
    """Apply a verified Stripe webhook event. Replay-safe: an event id is handled once."""
    intent = event.intent
    if intent is None or intent.order_id is None:
        log.info("stripe event %s (%s) is not about our payments", event.id, event.type)
    elif event.type == INTENT_SUCCEEDED and intent.succeeded:
        await settle_intent(intent, deps=deps, event=event)
    elif event.type == INTENT_FAILED:
        # Nothing to record: the buyer got the decline (402) and may pay again.
        log.info("order %s: payment intent %s failed", intent.order_id, intent.id)


@dataclass(frozen=True)
class _Settled:
    payment: Payment
    # Recorded by this transaction for an order still unknown long after Stripe's event.
    unmatched: bool = False


async def settle_intent(
    intent: Intent,
    *,
    deps: Deps,
    event: StripeEvent | None = None,
    idempotency: IdempotencyKey | None = None,
) -> Payment | None:
    """Record what a succeeded PaymentIntent took, once per intent.

    An open, unpaid order whose amount it is keeps it: the payment, the order's
    ``paid_by`` and ``payment.created`` commit together. Any other order gets it back:
    the payment is recorded ``refunding`` with its reason (no event, so the ticket stays
    with whoever holds it now), then refunded. Replay-safe: a recorded intent returns
    its record. With ``event`` (a webhook's) the event is claimed in the same
    transaction; None means it was handled before. A kept payment is remembered under
    ``idempotency`` in the same transaction, too.
    """
    settled = await deps.uow.run(lambda tx: _settle(tx, intent, event, idempotency, deps))
    if settled is None:
        return None
    if settled.unmatched:
        # Counted once committed: a transaction re-run after a conflict decides again.
        UNMATCHED_WEBHOOKS.inc()
    payment = settled.payment
    if payment.status is PaymentStatus.REFUNDING:
        payment = await give_back(payment, deps=deps)
    return payment


async def give_back(payment: Payment, *, deps: Deps) -> Payment:
    """Ask Stripe to refund a ``refunding`` payment, and record how that went.

    Never raises for Stripe's sake: a failed attempt is recorded with the time of the
    next one. Stripe's idempotency key (the intent's) makes a repeat the same refund.
    """
    try:
        refund_id = await deps.stripe.refund(payment.stripe_id)
    except Exception:
        # Whatever went wrong (Stripe down, slow, or an answer we did not expect), the
        # money must still go back: log it, and let retry_refunds try again later.
        log.exception("refund of %s for order %s failed", payment.stripe_id, payment.order_id)
        after = payment.refund_failed(deps.clock())
    else:
        after = payment.refunded_by(refund_id)
        log.info("order %s: %s refunded (%s)", payment.order_id, payment.stripe_id, refund_id)

    async def record(tx: Transaction) -> Payment:
        current = await tx.payments.for_intent(payment.stripe_id)
        if current is None or current.status is not PaymentStatus.REFUNDING:
            # Another attempt (a racing listener, the sweep, another replica) recorded
            # the refund first: the same refund, thanks to the idempotency key.
            return current or after
        await tx.payments.save(after, was=PaymentStatus.REFUNDING)
        return after

    return await deps.uow.run(record)


async def retry_refunds(*, deps: Deps) -> int:
    """Make the refunds that are due again; how many Stripe confirmed this round."""
    due = await deps.payments.refunds_due(deps.clock(), limit=REFUND_BATCH)
    done = 0
    for payment in due:
        after = await give_back(payment, deps=deps)
        done += after.status is PaymentStatus.REFUNDED
    return done


async def _settle(
    tx: Transaction,
    intent: Intent,
    event: StripeEvent | None,
    idempotency: IdempotencyKey | None,
    deps: Deps,
) -> _Settled | None:
    if event is not None and not await tx.claim(f"stripe:{event.id}"):
        return None
    recorded: _Settled | None = None

    async def payment_of_intent() -> Payment:
        nonlocal recorded
        # A racing request (or the webhook) may have recorded this intent already.
        payment = await tx.payments.for_intent(intent.id)
        if payment is not None:
            return payment
        recorded = await _record(tx, intent, event, deps)
        return recorded.payment

    # Only a kept payment is remembered: the buyer of a refused one may pay again.
    payment = await run_once(tx.kept, idempotency, payment_of_intent, keep=_is_kept)
    return recorded if recorded is not None else _Settled(payment)


def _is_kept(payment: Payment) -> bool:
    return payment.kept


async def _record(
    tx: Transaction, intent: Intent, event: StripeEvent | None, deps: Deps
) -> _Settled:
    assert intent.order_id is not None
    payment = Payment(
        id=str(ObjectId()),
        order_id=intent.order_id,
        stripe_id=intent.id,
        amount_cents=intent.amount_cents,
    )
    order = await tx.orders.get(intent.order_id)
    if order is None:
        if event is None or not event.older_than(UNMATCHED_WEBHOOK_AFTER, deps.clock()):
            raise OrderNotReplicatedYet()
        if await deps.rebuilds.running():
            # However old Stripe's event, the order may just not be back in the replica yet.
            raise OrderNotReplicatedYet()
        payment = payment.to_refund(Unpayable.UNKNOWN_ORDER, deps.clock())
        await tx.payments.add(payment)
        log.warning(
            "stripe event %s: order %s unknown; refunding %s", event.id, payment.order_id, intent.id
        )
        return _Settled(payment, unmatched=True)
    reason = order.unpayable_because(intent)
    if reason is not None:
        payment = payment.to_refund(reason, deps.clock())
        await tx.payments.add(payment)
        log.warning("order %s cannot keep %s (%s): refunding", order.id, intent.id, reason.value)
        return _Settled(payment)
    await tx.orders.keep_payment(order.paid_with(payment.id))
    await tx.payments.add(payment)
    await tx.emit(payment.created_event())
    log.info("order %s paid by %s (payment %s)", order.id, intent.id, payment.id)
    return _Settled(payment)
