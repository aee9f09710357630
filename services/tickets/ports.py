"""What tickets' use cases need from the world, as Protocols; the adapters implement them.

Writes happen inside a unit of work: ``async with uow() as tx`` (or ``uow.run(work)``, which
re-runs ``work`` on a write conflict) hands out repositories already bound to the
transaction, so a use case never passes a session around.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from services.tickets.domain import Ticket
from shared.events import Event

T = TypeVar("T")

Clock = Callable[[], datetime]  # tz-aware UTC now


class TicketRepository(Protocol):
    """Tickets, inside one transaction. Every write states the version it expects."""

    async def add(self, ticket: Ticket) -> None: ...

    async def get(self, ticket_id: str) -> Ticket | None:
        """The ticket, or None when there is none (or ``ticket_id`` is no ticket id)."""

    async def save(self, ticket: Ticket) -> None:
        """Store ``ticket`` (the next version) if it is still at ``ticket.version - 1``;
        ``shared.errors.Conflict`` otherwise, and nothing is overwritten."""

    async def page(self, after: str | None, limit: int) -> list[Ticket]:
        """Up to ``limit`` tickets in id order, from the one after ``after`` (None: the first)."""


class CancelledOrders(Protocol):
    """Orders known to have ended, so that a late ``order.created`` of one holds nothing."""

    async def remember(self, order_id: str) -> None: ...

    async def include(self, order_id: str) -> bool: ...


class Transaction(Protocol):
    """What a use case sees inside a unit of work."""

    @property
    def tickets(self) -> TicketRepository: ...

    @property
    def cancelled_orders(self) -> CancelledOrders: ...

    async def emit(self, *events: Event, headers: Mapping[str, str] | None = None) -> list[str]:
        """Announce ``events`` once (and only if) the transaction commits."""

    async def claim(self, message_id: str) -> bool:
        """Record ``message_id`` as handled; False for a repeat (the transaction is then
        dropped, so nothing else it wrote is kept)."""


class UnitOfWork(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[Transaction]:
        """One transaction: committed on a clean exit, abandoned on an error."""

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """``work`` in a transaction, re-run from the start when another writer won."""


class TicketCatalog(Protocol):
    """Reads outside any transaction, for the API's pages."""

    async def get(self, ticket_id: str) -> Ticket | None: ...

    async def unreserved(self) -> list[Ticket]:
        """Tickets no order holds, oldest first."""
