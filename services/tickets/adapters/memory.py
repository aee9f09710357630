"""In-memory twins of tickets' ports, for the use-case tests. They keep the real rules
(the version a save expects, a claimed message id is claimed once, nothing of an
abandoned transaction is kept) and pass the same contract tests as the Mongo adapters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from services.tickets import ports
from services.tickets.domain import Ticket
from shared.errors import Conflict
from shared.events import Event

T = TypeVar("T")

CONFLICT_ATTEMPTS = 8  # as shared.messaging.uow


@dataclass
class State:
    """Everything committed so far."""

    tickets: dict[str, Ticket] = field(default_factory=dict)
    cancelled_orders: set[str] = field(default_factory=set)
    claimed: set[str] = field(default_factory=set)
    published: list[Event] = field(default_factory=list)

    def copy(self) -> State:
        return State(
            dict(self.tickets), set(self.cancelled_orders), set(self.claimed), list(self.published)
        )


class InMemoryTicketRepository:
    def __init__(self, state: State) -> None:
        self._state = state

    async def add(self, ticket: Ticket) -> None:
        if ticket.id in self._state.tickets:
            raise Conflict(f"ticket {ticket.id} exists")
        self._state.tickets[ticket.id] = ticket

    async def get(self, ticket_id: str) -> Ticket | None:
        return self._state.tickets.get(ticket_id)

    async def save(self, ticket: Ticket) -> None:
        stored = self._state.tickets.get(ticket.id)
        if stored is None or stored.version != ticket.version - 1:
            raise Conflict(f"ticket {ticket.id} changed after version {ticket.version - 1}")
        self._state.tickets[ticket.id] = ticket

    async def page(self, after: str | None, limit: int) -> list[Ticket]:
        # Ticket ids are ObjectIds: as hex text they sort as Mongo sorts them.
        ids = sorted(i for i in self._state.tickets if after is None or i > after)[:limit]
        return [self._state.tickets[i] for i in ids]


class InMemoryCancelledOrders:
    def __init__(self, state: State) -> None:
        self._state = state

    async def remember(self, order_id: str) -> None:
        self._state.cancelled_orders.add(order_id)

    async def include(self, order_id: str) -> bool:
        return order_id in self._state.cancelled_orders


class InMemoryTransaction:
    """Works on a copy of the state; the unit of work keeps the copy only on commit."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.tickets = InMemoryTicketRepository(state)
        self.cancelled_orders = InMemoryCancelledOrders(state)
        self.emitted: list[Event] = []
        self.discarded = False

    async def emit(self, *events: Event, headers: Mapping[str, str] | None = None) -> list[str]:
        start = len(self.state.published) + len(self.emitted)
        self.emitted.extend(events)
        return [str(start + index) for index in range(len(events))]

    async def claim(self, message_id: str) -> bool:
        if message_id in self.state.claimed:
            self.discarded = True
            return False
        self.state.claimed.add(message_id)
        return True


class InMemoryUnitOfWork:
    """One transaction at a time (a lock), so the twin never needs to merge writes."""

    def __init__(self, state: State | None = None) -> None:
        self.state = state or State()
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[ports.Transaction]:
        async with self._lock:
            tx = InMemoryTransaction(self.state.copy())
            yield tx
            if not tx.discarded:
                tx.state.published.extend(tx.emitted)
                self.state = tx.state

    async def run(self, work: Callable[[ports.Transaction], Awaitable[T]]) -> T:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                async with self() as tx:
                    return await work(tx)
            except Conflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    @property
    def published(self) -> list[Event]:
        """The events of every committed transaction, in order."""
        return self.state.published


class InMemoryTicketCatalog:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def get(self, ticket_id: str) -> Ticket | None:
        return self._uow.state.tickets.get(ticket_id)

    async def unreserved(self) -> list[Ticket]:
        free = [t for t in self._uow.state.tickets.values() if t.order_id is None]
        # Ticket ids are ObjectIds: as hex text they sort as Mongo sorts them, by age.
        return sorted(free, key=lambda ticket: ticket.id)
