"""What the pages show: users, tickets and orders as the APIs return them. No I/O here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum

from shared.events import OrderStatus


def money_text(cents: int) -> str:
    """``1250`` → ``"12.50"``: prices always show two decimals."""
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass(frozen=True)
class User:
    id: str
    email: str


@dataclass(frozen=True)
class Ticket:
    id: str
    title: str
    price_cents: int


@dataclass(frozen=True)
class Order:
    id: str
    status: OrderStatus
    expires_at: datetime
    ticket: Ticket

    def seconds_left(self, now: datetime) -> int:
        """Whole seconds until the hold ends; below 0 the hold is over.

        Rounded half up, like the page's JavaScript (Math.round) and the original page,
        so the number the server renders is the one the countdown goes on from.
        """
        return math.floor((self.expires_at - now).total_seconds() + 0.5)

    @property
    def is_over(self) -> bool:
        """Paid for or cancelled: nothing more will happen to it."""
        return self.status in (OrderStatus.COMPLETE, OrderStatus.CANCELLED)

    def stage(self, now: datetime) -> OrderStage:
        """What the buyer can do with the order at ``now``."""
        if self.status is OrderStatus.COMPLETE:
            return OrderStage.PAID
        if self.status is OrderStatus.CANCELLED:
            # The hold ran out, or the buyer let the ticket go before it did.
            return OrderStage.EXPIRED if now >= self.expires_at else OrderStage.CANCELLED
        # Expiry reaches orders through an event; the page need not wait for it.
        if self.seconds_left(now) < 0:
            return OrderStage.EXPIRED
        return OrderStage.OPEN


class OrderStage(Enum):
    OPEN = "open"  # held for the buyer: pay now
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    PAID = "paid"


@dataclass(frozen=True)
class Payment:
    id: str


@dataclass(frozen=True)
class ActionRequired:
    """payments' 202: the card asks for 3-D Secure and nothing is taken yet. The buyer's
    browser goes to ``redirect_url`` (the bank's challenge, which sends it back to us), or,
    without one, Stripe.js shows the challenge (``stripe.handleNextAction``)."""

    client_secret: str
    redirect_url: str | None = None


# Why payments gave money back (its ``refundReason``), in the buyer's words.
REFUND_REASONS = {
    "order_cancelled": "the order was cancelled before the payment reached it",
    "already_paid": "the order had already been paid for",
    "amount_mismatch": "the amount charged did not match the order",
}


class PaymentStatus(StrEnum):
    """A payment's status as payments' ``GET /api/payments`` lists it (its HTTP contract,
    not an event's: payment.created carries no status, so it is not in shared.events)."""

    SUCCEEDED = "succeeded"  # kept
    REFUNDING = "refunding"  # being given back; Stripe has not confirmed it yet
    REFUNDED = "refunded"


@dataclass(frozen=True)
class PaymentRecord:
    """A payment Stripe took for an order, as payments lists it: kept or given back."""

    id: str
    stripe_id: str
    status: PaymentStatus
    refund_reason: str | None = None

    @property
    def summary(self) -> str:
        """One line for the order page."""
        why = REFUND_REASONS.get(self.refund_reason or "", "it could not be kept")
        if self.status is PaymentStatus.REFUNDED:
            return f"Refunded in full: {why}."
        if self.status is PaymentStatus.REFUNDING:
            return f"Being refunded: {why}. Stripe has not confirmed the refund yet."
        return "Paid."
