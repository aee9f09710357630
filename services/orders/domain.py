"""Orders, the ticket replica and the rules for changing them. No I/O here.

Only this service increments an order's ``version`` (0 at create, +1 per change). The
ticket replica's version is the tickets service's: we only ever copy it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from shared.errors import BadRequest, ServiceUnavailable
from shared.events import (
    OrderCancelled,
    OrderCreated,
    OrderSnapshot,
    OrderStatus,
    TicketCreated,
    TicketId,
    TicketRef,
    TicketSnapshot,
    TicketUpdated,
)
from shared.replica import VersionStep, step


class TicketAlreadyReserved(BadRequest):
    default_message = "Ticket is already reserved"


class CannotOrderOwnTicket(BadRequest):
    default_message = "You cannot order your own ticket"


class TooManyOpenOrders(BadRequest):
    def __init__(self, most: int) -> None:
        super().__init__(
            f"You already hold {most} open orders, the most at once: pay for or cancel one first"
        )


class PaidOrderCannotBeCancelled(BadRequest):
    default_message = "Cannot cancel a complete order: it has been paid for"


class TicketNotReplicated(ServiceUnavailable):
    """The ticket replica is being rebuilt and this ticket is not back in it yet: a 503,
    so the caller tries again in a moment (docs/rebuild.md)."""

    default_message = "Ticket not known yet: its replica is being rebuilt; retry later"


@dataclass(frozen=True)
class Ticket:
    """What orders knows of a ticket: a copy kept in step by the tickets service's events."""

    id: str
    title: str
    price_cents: int
    version: int = 0
    seller_id: str | None = None  # None only in replicas made before we kept it

    @classmethod
    def from_event(cls, event: TicketCreated | TicketSnapshot) -> Ticket:
        """The replica at the event's version: a new ticket, or a snapshot of one. Who holds
        it is not a snapshot's to say: that is derived from this service's own orders."""
        return cls(
            id=event.id,
            title=event.title,
            price_cents=event.price_cents,
            version=event.version,
            seller_id=event.user_id,
        )

    def check_orderable_by(self, user_id: str) -> None:
        """A seller cannot hold their own ticket (and so keep it off sale)."""
        if user_id == self.seller_id:
            raise CannotOrderOwnTicket()

    def step_for(self, event: TicketUpdated) -> VersionStep:
        """Whether ``event`` is this replica's next version, one seen, or an early one."""
        return step(self.version, event.version)

    def at_version(self, event: TicketUpdated) -> Ticket:
        """The replica at ``event``'s version (the next one)."""
        return replace(
            self,
            title=event.title,
            price_cents=event.price_cents,
            version=event.version,
            seller_id=event.user_id,
        )


def _to_milliseconds(instant: datetime) -> datetime:
    # The wire and BSON keep milliseconds; an order equals itself after a round trip.
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class OrderState:
    """An order without its ticket: what paying for it or letting it expire changes.

    Read from the order alone, so payment and expiry never wait for the ticket replica
    (during its rebuild a ticket can be missing for as long as its snapshot takes).
    """

    id: str
    status: OrderStatus
    ticket_id: str
    version: int = 0

    @property
    def settled(self) -> bool:
        """Paid or cancelled: nothing can change it any more."""
        return self.status in (OrderStatus.COMPLETE, OrderStatus.CANCELLED)

    def cancelled(self) -> OrderState:
        """The next version, cancelled. A paid order is never cancelled."""
        if self.status is OrderStatus.COMPLETE:
            raise PaidOrderCannotBeCancelled()
        return replace(self, status=OrderStatus.CANCELLED, version=self.version + 1)

    def completed(self) -> OrderState:
        """The next version, paid for."""
        return replace(self, status=OrderStatus.COMPLETE, version=self.version + 1)

    def cancelled_event(self) -> OrderCancelled:
        return OrderCancelled(id=self.id, version=self.version, ticket=TicketId(id=self.ticket_id))


@dataclass(frozen=True)
class OrderForSnapshot:
    """An order as its snapshot tells it, with the price it was placed at (the one its
    ``order.created`` said) rather than its ticket: readable while the ticket replica is
    rebuilt. A reserved ticket cannot be repriced, so that is the ticket's price too."""

    id: str
    user_id: str
    status: OrderStatus
    expires_at: datetime
    ticket_id: str
    price_cents: int
    version: int = 0

    def snapshot_event(self, request_id: str) -> OrderSnapshot:
        """The order as it is now, answering snapshot request ``request_id``."""
        return OrderSnapshot(
            id=self.id,
            version=self.version,
            status=self.status,
            user_id=self.user_id,
            expires_at=self.expires_at,
            ticket=TicketRef(id=self.ticket_id, price_cents=self.price_cents),
            request_id=request_id,
        )


@dataclass(frozen=True)
class Order:
    id: str
    user_id: str
    status: OrderStatus
    expires_at: datetime
    ticket: Ticket
    version: int = 0

    @classmethod
    def place(
        cls, *, order_id: str, user_id: str, ticket: Ticket, now: datetime, hold_s: float
    ) -> Order:
        """A new order holding ``ticket`` for ``hold_s`` seconds from ``now``."""
        expires_at = _to_milliseconds(now.astimezone(UTC) + timedelta(seconds=hold_s))
        return cls(
            id=order_id,
            user_id=user_id,
            status=OrderStatus.CREATED,
            expires_at=expires_at,
            ticket=ticket,
        )

    @property
    def state(self) -> OrderState:
        return OrderState(
            id=self.id, status=self.status, ticket_id=self.ticket.id, version=self.version
        )

    @property
    def settled(self) -> bool:
        return self.state.settled

    @property
    def holds_ticket(self) -> bool:
        """Open or paid: its ticket is its own (a cancelled order let go of it)."""
        return self.status is not OrderStatus.CANCELLED

    def is_overdue(self, now: datetime) -> bool:
        return self.status is OrderStatus.CREATED and now >= self.expires_at

    def cancelled(self) -> Order:
        """The next version, cancelled (``OrderState.cancelled``'s rules)."""
        state = self.state.cancelled()
        return replace(self, status=state.status, version=state.version)

    def completed(self) -> Order:
        """The next version, paid for."""
        state = self.state.completed()
        return replace(self, status=state.status, version=state.version)

    def created_event(self) -> OrderCreated:
        return OrderCreated(
            id=self.id,
            version=self.version,
            status=self.status,
            user_id=self.user_id,
            expires_at=self.expires_at,
            ticket=TicketRef(id=self.ticket.id, price_cents=self.ticket.price_cents),
        )

    @property
    def for_snapshot(self) -> OrderForSnapshot:
        return OrderForSnapshot(
            id=self.id,
            user_id=self.user_id,
            status=self.status,
            expires_at=self.expires_at,
            ticket_id=self.ticket.id,
            price_cents=self.ticket.price_cents,
            version=self.version,
        )

    def cancelled_event(self) -> OrderCancelled:
        return self.state.cancelled_event()
