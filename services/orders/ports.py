"""What orders' use cases need from the world, as Protocols; the adapters implement them.

Writes happen inside a unit of work: ``async with uow() as tx`` (or ``uow.run(work)``, which
re-runs ``work`` on a write conflict) hands out the repositories already bound to the
transaction, so a use case never passes a session around.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from services.orders.domain import Order, OrderForSnapshot, OrderState, Ticket
from shared.events import Event
from shared.idempotency import Results

T = TypeVar("T")

Clock = Callable[[], datetime]  # tz-aware UTC now


class OrderRepository(Protocol):
    """Orders, each read with its ticket, inside one transaction. Every write states the
    version it expects."""

    async def add(self, order: Order) -> None: ...

    async def get(self, order_id: str) -> Order | None:
        """The order, or None when there is none (or ``order_id`` is no order id);
        ``TicketNotReplicated`` when its ticket is not in the replica."""

    async def state(self, order_id: str) -> OrderState | None:
        """The order without its ticket, or None: readable whatever the replica holds."""

    async def save(self, order: Order | OrderState) -> None:
        """Store ``order`` (the next version) if it is still at ``order.version - 1``;
        ``shared.errors.Conflict`` otherwise, and nothing is overwritten."""

    async def count_open(self, user_id: str) -> int:
        """How many of the user's orders hold a ticket unpaid (status ``created``)."""

    async def page(self, after: str | None, limit: int) -> list[OrderForSnapshot]:
        """Up to ``limit`` orders in id order, from the one after ``after`` (None: the
        first), each with the price it was placed at; ``TicketNotReplicated`` only for an
        order stored before we kept that price whose ticket is not in the replica."""

    async def lock_buyer(self, user_id: str) -> None:
        """Write the buyer's own record in this transaction.

        Two concurrent orders of one buyer then conflict (one re-runs), so the count each
        takes of the buyer's open orders cannot be stale when it decides.
        """


class TicketReplica(Protocol):
    """orders' copy of the tickets service's tickets, and which order holds each, inside
    one transaction. Holding changes only with the holding order's status."""

    async def add(self, ticket: Ticket) -> bool:
        """Start replicating ``ticket``; False if it is replicated already (a duplicate).

        It is held by the order of ours that holds it (``Order.holds_ticket``), if any: a
        ticket added back by a rebuild is held as our orders say, not as it was copied."""

    async def get(self, ticket_id: str) -> Ticket | None: ...

    async def apply_version(self, ticket: Ticket, *, over: int | None = None) -> bool:
        """Store ``ticket`` if the replica still holds version ``over`` (by default the one
        before ``ticket``'s); else False. Who holds it is left as it is."""

    async def hold(self, ticket_id: str, order_id: str) -> Ticket | None:
        """Mark the ticket held by ``order_id`` if nobody holds it, and return it; None if
        somebody does, or there is no such ticket."""

    async def release(self, ticket_id: str, order_id: str) -> None:
        """Free the ticket if ``order_id`` is the one holding it."""


class Transaction(Protocol):
    """What a use case sees inside a unit of work."""

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def tickets(self) -> TicketReplica: ...

    @property
    def idempotency(self) -> Results[Order]:
        """The orders placed under idempotency keys."""

    async def emit(self, *events: Event, headers: Mapping[str, str] | None = None) -> list[str]:
        """Announce ``events`` once (and only if) the transaction commits."""


class UnitOfWork(Protocol):
    def __call__(self) -> AbstractAsyncContextManager[Transaction]:
        """One transaction: committed on a clean exit, abandoned on an error."""

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """``work`` in a transaction, re-run from the start when another writer won."""


class OrderQueries(Protocol):
    """Reads outside any transaction: the API's pages and the sweep's search."""

    async def get(self, order_id: str) -> Order | None:
        """The order, or None; ``TicketNotReplicated`` when its ticket is not in the replica."""

    async def of_user(self, user_id: str) -> list[Order]:
        """The user's orders, oldest first, each with its ticket as it is now."""

    async def overdue_ids(self, before: datetime, *, limit: int) -> list[str]:
        """Ids of ``created`` orders that expired before ``before``, the most overdue first."""

    async def held_ticket(self, ticket_id: str) -> Ticket | None:
        """The ticket if an order holds it now; None if it is free or unknown.

        Read outside any transaction, so it only serves to refuse early: a ticket seen free
        may be taken a moment later, and only the transaction's hold decides who gets it.
        """
