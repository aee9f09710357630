"""Tickets and the rules for changing them. No I/O here.

Only this service increments a ticket's ``version`` (0 at create, +1 per change); every
change raises the event that tells the replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.errors import BadRequest, NotAuthorized
from shared.events import TicketCreated, TicketSnapshot, TicketUpdated


class TicketReserved(BadRequest):
    default_message = "Cannot edit a reserved ticket"


@dataclass(frozen=True)
class Ticket:
    id: str
    title: str
    price_cents: int
    user_id: str
    version: int = 0
    order_id: str | None = None

    @property
    def reserved(self) -> bool:
        return self.order_id is not None

    def edited(self, *, title: str, price_cents: int, by_user: str) -> Ticket:
        """The next version with a new title and price; only the seller, only unreserved."""
        if by_user != self.user_id:
            raise NotAuthorized()
        if self.reserved:
            raise TicketReserved()
        return replace(self, title=title, price_cents=price_cents, version=self.version + 1)

    def reserved_for(self, order_id: str) -> Ticket:
        return replace(self, order_id=order_id, version=self.version + 1)

    def released(self) -> Ticket:
        return replace(self, order_id=None, version=self.version + 1)

    def created_event(self) -> TicketCreated:
        return TicketCreated(
            id=self.id,
            version=self.version,
            title=self.title,
            price_cents=self.price_cents,
            user_id=self.user_id,
        )

    def updated_event(self) -> TicketUpdated:
        return TicketUpdated(
            id=self.id,
            version=self.version,
            title=self.title,
            price_cents=self.price_cents,
            user_id=self.user_id,
            order_id=self.order_id,
        )

    def snapshot_event(self, request_id: str) -> TicketSnapshot:
        """The ticket as it is now, answering snapshot request ``request_id``."""
        return TicketSnapshot(
            id=self.id,
            version=self.version,
            title=self.title,
            price_cents=self.price_cents,
            user_id=self.user_id,
            order_id=self.order_id,
            request_id=request_id,
        )
