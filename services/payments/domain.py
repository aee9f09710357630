"""Orders as payments sees them, payments, and when money may be kept. No I/O here.

The order replica follows the orders service's versions and never makes its own. An
order keeps at most one payment. Money that an order cannot keep (it was cancelled,
it is paid already, or the intent is not for the order's amount) goes back: the
payment is marked ``refunding`` in the same transaction that decides it, and stays so
until Stripe confirms the refund, however long Stripe is down (docs/payments.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from shared.errors import BadRequest, NotAuthorized, PaymentDeclined
from shared.events import OrderCreated, OrderSnapshot, OrderStatus, PaymentCreated

CURRENCY = "usd"  # every price is in US cents (architecture §6)
SUCCEEDED = "succeeded"  # Stripe's word for a PaymentIntent that took the money
# Stripe waits for the buyer: a 3-D Secure challenge (the intent's next_action).
REQUIRES_ACTION = "requires_action"

# A refund Stripe could not take is tried again after 1, 2, 4 ... seconds, at most this far apart.
REFUND_RETRY_MAX_S = 300.0


class CannotPayCancelledOrder(BadRequest):
    default_message = "Cannot pay for an cancelled order"  # the original's text, typo kept


class OrderAlreadyPaid(BadRequest):
    default_message = "Order has already been paid for"


class OrderExpired(BadRequest):
    default_message = "Order has expired"


class AmountMismatch(BadRequest):
    default_message = "The payment does not match the order's amount; it has been refunded"


class PaymentNotCompleted(PaymentDeclined):
    """Stripe did not take the money: the buyer failed the card's 3-D Secure challenge
    (Stripe's message says so), or nothing was paid at all."""


class Unpayable(Enum):
    """Why an order cannot keep a payment."""

    CANCELLED = "order_cancelled"
    ALREADY_PAID = "already_paid"
    AMOUNT_MISMATCH = "amount_mismatch"
    # Stripe's event names an order we still have not heard of long after: no such order
    # can ever be paid (orders completes only what we announce), so the money goes back.
    UNKNOWN_ORDER = "unknown_order"

    def error(self) -> BadRequest:
        errors = {
            Unpayable.CANCELLED: CannotPayCancelledOrder,
            Unpayable.ALREADY_PAID: OrderAlreadyPaid,
            Unpayable.AMOUNT_MISMATCH: AmountMismatch,
            # Only a webhook records this reason; a buyer paying has a known order.
            Unpayable.UNKNOWN_ORDER: CannotPayCancelledOrder,
        }
        return errors[self]()


@dataclass(frozen=True)
class NextAction:
    """What the buyer's browser must do before Stripe takes the money (3-D Secure).

    ``redirect_to_url``: go to ``redirect_url`` (the bank's challenge), which sends the
    buyer back to the ``return_url`` payments confirmed with. ``use_stripe_sdk``: Stripe.js
    shows the challenge on the page (``stripe.handleNextAction``).
    """

    type: str
    redirect_url: str | None = None


@dataclass(frozen=True)
class ActionRequired:
    """The order's intent waits for the buyer's challenge; what the browser needs for it.
    Nothing is taken yet; completing it is ``service.confirm_payment`` (or the webhook)."""

    order_id: str
    client_secret: str
    next_action: NextAction


@dataclass(frozen=True)
class Intent:
    """A Stripe PaymentIntent, as far as payments cares."""

    id: str
    order_id: str | None  # from its metadata; None for intents that are not ours
    amount_cents: int
    status: str
    currency: str = CURRENCY
    client_secret: str | None = None
    next_action: NextAction | None = None  # set while it requires_action
    error_message: str | None = None  # its last_payment_error's, for the buyer

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def action_required(self) -> ActionRequired | None:
        """What the buyer must do first, while the intent waits for them; else None."""
        if self.status != REQUIRES_ACTION or self.next_action is None:
            return None
        if self.order_id is None or self.client_secret is None:
            return None
        return ActionRequired(self.order_id, self.client_secret, self.next_action)


@dataclass(frozen=True)
class Order:
    """The replica of an order: who buys, what it costs, whether it is still open.

    ``paid_by`` is payments' own: the payment the order keeps. Keeping a payment and
    cancelling the order both write this one document, so the database refuses to
    commit both (on MongoDB two transactions that only read what the other writes
    could otherwise both commit: a kept payment on a cancelled order).
    """

    id: str
    user_id: str
    price_cents: int
    status: OrderStatus
    version: int
    paid_by: str | None = None
    expires_at: datetime | None = None  # None only in replicas made before we kept it

    @classmethod
    def from_created(cls, event: OrderCreated | OrderSnapshot) -> Order:
        """The replica of a new order, or of an order at a snapshot's version; it keeps no
        payment (``paid_by`` is ours, never the owner's to say)."""
        return cls(
            id=event.id,
            user_id=event.user_id,
            price_cents=event.ticket.price_cents,
            status=event.status,
            version=event.version,
            expires_at=event.expires_at,
        )

    def cancelled(self) -> Order:
        """The next version, cancelled."""
        return replace(self, status=OrderStatus.CANCELLED, version=self.version + 1)

    def paid_with(self, payment_id: str) -> Order:
        """The same version, keeping ``payment_id``."""
        return replace(self, paid_by=payment_id)

    def unpayable_because(self, intent: Intent | None = None) -> Unpayable | None:
        """Why money (``intent``'s, when given) cannot be kept by this order, or None."""
        if self.status is OrderStatus.CANCELLED:
            return Unpayable.CANCELLED
        if self.paid_by is not None or self.status is OrderStatus.COMPLETE:
            return Unpayable.ALREADY_PAID
        if intent is not None and (intent.amount_cents, intent.currency) != (
            self.price_cents,
            CURRENCY,
        ):
            return Unpayable.AMOUNT_MISMATCH
        return None

    def check_payable(self, by_user: str, now: datetime) -> None:
        """Only the buyer pays, and only for an open, unpaid order whose hold has not run
        out (orders cancels it any moment now; payments would only have to refund)."""
        if by_user != self.user_id:
            raise NotAuthorized()
        reason = self.unpayable_because()
        if reason is not None:
            raise reason.error()
        if self.expires_at is not None and now >= self.expires_at:
            raise OrderExpired()


@dataclass(frozen=True)
class StripeEvent:
    """A verified webhook event; ``intent`` is set for ``payment_intent.*`` events."""

    id: str
    type: str
    intent: Intent | None
    created_at: datetime | None = None  # when Stripe made the event

    def older_than(self, age: timedelta, now: datetime) -> bool:
        return self.created_at is not None and now - self.created_at > age


class PaymentStatus(Enum):
    SUCCEEDED = "succeeded"  # kept: the order is (or is about to be) complete
    REFUNDING = "refunding"  # decided to give back; Stripe has not confirmed the refund yet
    REFUNDED = "refunded"  # given back in full, per Stripe


@dataclass(frozen=True)
class Payment:
    """Money Stripe took for an order (one PaymentIntent): kept, going back, or given back."""

    id: str
    order_id: str
    stripe_id: str
    amount_cents: int
    status: PaymentStatus = PaymentStatus.SUCCEEDED
    refund_reason: Unpayable | None = None
    refund_id: str | None = None
    refund_attempts: int = 0
    next_refund_at: datetime | None = None

    @property
    def kept(self) -> bool:
        return self.status is PaymentStatus.SUCCEEDED

    def to_refund(self, reason: Unpayable, now: datetime) -> Payment:
        """Give this money back because of ``reason``, starting now."""
        return replace(
            self, status=PaymentStatus.REFUNDING, refund_reason=reason, next_refund_at=now
        )

    def refund_failed(self, now: datetime) -> Payment:
        """Stripe did not refund this time: try again later, backing off."""
        attempts = self.refund_attempts + 1
        delay_s = min(2.0 ** (attempts - 1), REFUND_RETRY_MAX_S)
        return replace(
            self, refund_attempts=attempts, next_refund_at=now + timedelta(seconds=delay_s)
        )

    def refunded_by(self, refund_id: str) -> Payment:
        return replace(
            self, status=PaymentStatus.REFUNDED, refund_id=refund_id, next_refund_at=None
        )

    def created_event(self) -> PaymentCreated:
        return PaymentCreated(id=self.id, order_id=self.order_id, stripe_id=self.stripe_id)
