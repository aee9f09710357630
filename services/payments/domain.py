"""Orders as payments sees them, payments, and when money may be kept. No I/O here.

The order replica follows the orders service's versions and never makes its own. An
order keeps at most one payment; money that arrives for an order that cannot take it
(cancelled meanwhile, or paid already) goes back and is recorded as refunded.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from shared.errors import BadRequest, NotAuthorized, PaymentDeclined
from shared.events import OrderCreated, PaymentCreated

CREATED = "created"
CANCELLED = "cancelled"
COMPLETE = "complete"

SUCCEEDED = "succeeded"  # Stripe's word for a PaymentIntent that took the money


class CannotPayCancelledOrder(BadRequest):
    default_message = "Cannot pay for an cancelled order"  # the original's text, typo kept


class OrderAlreadyPaid(BadRequest):
    default_message = "Order has already been paid for"


class PaymentNotCompleted(PaymentDeclined):
    """Stripe neither took the money nor declined (e.g. the card wants authentication)."""


class Unpayable(Enum):
    """Why an order cannot take a payment."""

    CANCELLED = "order_cancelled"
    ALREADY_PAID = "already_paid"

    def error(self) -> BadRequest:
        return CannotPayCancelledOrder() if self is Unpayable.CANCELLED else OrderAlreadyPaid()


class VersionStep(Enum):
    """How an order event's version relates to the replica's."""

    NEXT = "next"  # the next version: apply it
    SEEN = "seen"  # this version or a later one is applied already: a duplicate
    EARLY = "early"  # a version in between has not arrived yet: wait for it


@dataclass(frozen=True)
class Order:
    """The replica of an order: who buys, what it costs, whether it is still open."""

    id: str
    user_id: str
    price_cents: int
    status: str
    version: int

    @classmethod
    def from_created(cls, event: OrderCreated) -> Order:
        return cls(
            id=event.id,
            user_id=event.user_id,
            price_cents=event.ticket.price_cents,
            status=event.status,
            version=event.version,
        )

    def step_for(self, version: int) -> VersionStep:
        if version == self.version + 1:
            return VersionStep.NEXT
        if version <= self.version:
            return VersionStep.SEEN
        return VersionStep.EARLY

    def cancelled(self) -> Order:
        """The next version, cancelled."""
        return replace(self, status=CANCELLED, version=self.version + 1)

    def unpayable_because(self, *, paid: bool) -> Unpayable | None:
        """Why money for this order cannot be kept, or None when it can."""
        if self.status == CANCELLED:
            return Unpayable.CANCELLED
        if paid or self.status == COMPLETE:
            return Unpayable.ALREADY_PAID
        return None

    def check_payable(self, by_user: str, *, paid: bool) -> None:
        """Only the buyer pays, and only for an open, unpaid order."""
        if by_user != self.user_id:
            raise NotAuthorized()
        reason = self.unpayable_because(paid=paid)
        if reason is not None:
            raise reason.error()


@dataclass(frozen=True)
class Intent:
    """A Stripe PaymentIntent, as far as payments cares."""

    id: str
    order_id: str | None  # from its metadata; None for intents that are not ours
    amount_cents: int
    status: str

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED


@dataclass(frozen=True)
class StripeEvent:
    """A verified webhook event; ``intent`` is set for ``payment_intent.*`` events."""

    id: str
    type: str
    intent: Intent | None


@dataclass(frozen=True)
class Payment:
    """Money Stripe took for an order (one PaymentIntent), kept or given back."""

    id: str
    order_id: str
    stripe_id: str
    refund_id: str | None = None
    refund_reason: Unpayable | None = None

    @property
    def refunded(self) -> bool:
        return self.refund_id is not None

    def created_event(self) -> PaymentCreated:
        return PaymentCreated(id=self.id, order_id=self.order_id, stripe_id=self.stripe_id)
