"""In-memory twins of orders' ports, for the use-case tests. They keep the real rules (the
version a save expects, one holder per ticket, an order's ticket read as it is now, nothing
of an abandoned transaction kept) and pass the same contract tests as the Mongo adapters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from pymongo.errors import DuplicateKeyError

from services.orders import ports
from services.orders.domain import (
    Order,
    OrderForSnapshot,
    OrderState,
    Ticket,
    TicketNotReplicated,
)
from shared.errors import Conflict
from shared.events import Event, OrderStatus
from shared.idempotency.memory import InMemoryResults
from shared.messaging.outcome import one_attempt

T = TypeVar("T")

CONFLICT_ATTEMPTS = 8  # as shared.messaging.uow


@dataclass
class State:
    """Everything committed so far."""

    orders: dict[str, Order] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    held_by: dict[str, str | None] = field(default_factory=dict)  # ticket id -> order id
    orders_placed: dict[str, int] = field(default_factory=dict)  # buyer id -> count
    idempotency: dict[str, tuple[str, Order]] = field(default_factory=dict)
    published: list[Event] = field(default_factory=list)

    def copy(self) -> State:
        return State(
            dict(self.orders),
            dict(self.tickets),
            dict(self.held_by),
            dict(self.orders_placed),
            dict(self.idempotency),
            list(self.published),
        )

    def order(self, order_id: str) -> Order | None:
        """The order with its ticket as the replica has it now (as the Mongo read joins)."""
        order = self.orders.get(order_id)
        if order is None:
            return None
        ticket = self.tickets.get(order.ticket.id)
        if ticket is None:
            raise TicketNotReplicated()
        return replace(order, ticket=ticket)

    def holder(self, ticket_id: str) -> str | None:
        """The order that has not let go of the ticket, as the Mongo replica derives it."""
        holders = (
            o.id for o in self.orders.values() if o.ticket.id == ticket_id and o.holds_ticket
        )
        return next(holders, None)


class InMemoryOrderRepository:
    def __init__(self, state: State) -> None:
        self._state = state

    async def add(self, order: Order) -> None:
        if order.id in self._state.orders:
            raise DuplicateKeyError(f"order {order.id} exists")
        self._state.orders[order.id] = order

    async def get(self, order_id: str) -> Order | None:
        return self._state.order(order_id)

    async def state(self, order_id: str) -> OrderState | None:
        order = self._state.orders.get(order_id)
        return None if order is None else order.state

    async def save(self, order: Order | OrderState) -> None:
        stored = self._state.orders.get(order.id)
        if stored is None or stored.version != order.version - 1:
            raise Conflict(f"order {order.id} changed after version {order.version - 1}")
        # Like the Mongo save, only the status and the version change.
        self._state.orders[order.id] = replace(stored, status=order.status, version=order.version)

    async def count_open(self, user_id: str) -> int:
        return sum(
            order.user_id == user_id and order.status is OrderStatus.CREATED
            for order in self._state.orders.values()
        )

    async def page(self, after: str | None, limit: int) -> list[OrderForSnapshot]:
        # Order ids are ObjectIds: as hex text they sort as Mongo sorts them. A stored order
        # keeps the ticket it was placed with: its price is the price it was placed at.
        ids = sorted(i for i in self._state.orders if after is None or i > after)[:limit]
        return [self._state.orders[order_id].for_snapshot for order_id in ids]

    async def lock_buyer(self, user_id: str) -> None:
        # Transactions here run one at a time, so this write conflicts with nothing; it
        # is kept so that the state shows the same writes as MongoDB's.
        placed = self._state.orders_placed
        placed[user_id] = placed.get(user_id, 0) + 1


class InMemoryTicketReplica:
    def __init__(self, state: State) -> None:
        self._state = state

    async def add(self, ticket: Ticket) -> bool:
        if ticket.id in self._state.tickets:
            return False
        self._state.tickets[ticket.id] = ticket
        self._state.held_by[ticket.id] = self._state.holder(ticket.id)
        return True

    async def get(self, ticket_id: str) -> Ticket | None:
        return self._state.tickets.get(ticket_id)

    async def apply_version(self, ticket: Ticket, *, over: int | None = None) -> bool:
        stored = self._state.tickets.get(ticket.id)
        held = ticket.version - 1 if over is None else over
        if stored is None or stored.version != held:
            return False
        self._state.tickets[ticket.id] = ticket
        return True

    async def hold(self, ticket_id: str, order_id: str) -> Ticket | None:
        if ticket_id not in self._state.tickets or self._state.held_by[ticket_id] is not None:
            return None
        self._state.held_by[ticket_id] = order_id
        return self._state.tickets[ticket_id]

    async def release(self, ticket_id: str, order_id: str) -> None:
        if self._state.held_by.get(ticket_id) == order_id:
            self._state.held_by[ticket_id] = None


class InMemoryTransaction:
    """Works on a copy of the state; the unit of work keeps the copy only on commit."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.orders = InMemoryOrderRepository(state)
        self.tickets = InMemoryTicketReplica(state)
        self.idempotency = InMemoryResults(state.idempotency)
        self.emitted: list[Event] = []

    async def emit(self, *events: Event, headers: Mapping[str, str] | None = None) -> list[str]:
        start = len(self.state.published) + len(self.emitted)
        self.emitted.extend(events)
        return [str(start + index) for index in range(len(events))]


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
            tx.state.published.extend(tx.emitted)
            self.state = tx.state

    async def run(self, work: Callable[[ports.Transaction], Awaitable[T]]) -> T:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                with one_attempt():  # as shared.messaging.uow
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


class InMemoryOrderQueries:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def get(self, order_id: str) -> Order | None:
        return self._uow.state.order(order_id)

    async def of_user(self, user_id: str) -> list[Order]:
        state = self._uow.state
        ids = sorted(order.id for order in state.orders.values() if order.user_id == user_id)
        # Order ids are ObjectIds: as hex text they sort as Mongo sorts them, by age.
        return [order for order_id in ids if (order := state.order(order_id)) is not None]

    async def held_ticket(self, ticket_id: str) -> Ticket | None:
        state = self._uow.state
        return state.tickets.get(ticket_id) if state.held_by.get(ticket_id) else None

    async def overdue_ids(self, before: datetime, *, limit: int) -> list[str]:
        overdue = [
            order
            for order in self._uow.state.orders.values()
            if order.status is OrderStatus.CREATED and order.expires_at < before
        ]
        overdue.sort(key=lambda order: order.expires_at)
        return [order.id for order in overdue[:limit]]
