"""In-memory twins of payments' storage ports, for use-case tests that run in milliseconds.

They keep the rules the MongoDB adapters get from their filters and unique indexes (the
replica's version, the ``paid_by`` write-lock, one record per intent, one kept payment
per order, an idempotency key used once) and raise the same errors; tests/contract runs
one suite against both. Transactions run one at a time, on a copy that is committed on a
clean exit, so an error (a ``Conflict`` included) leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from services.payments.domain import Order, Payment, PaymentStatus
from shared.errors import Conflict
from shared.events import Event
from shared.idempotency.memory import InMemoryResults
from shared.messaging.uow import CONFLICT_ATTEMPTS, CONFLICT_BACKOFF_S

T = TypeVar("T")


@dataclass
class State:
    """Everything the twins hold; a transaction works on a copy of it."""

    orders: dict[str, Order] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)  # by payment id, oldest first
    kept: dict[str, tuple[str, Payment]] = field(default_factory=dict)  # record id: fingerprint
    claimed: set[str] = field(default_factory=set)
    emitted: list[Event] = field(default_factory=list)  # what committed transactions emitted

    def copy(self) -> State:
        # The values are frozen dataclasses: copying the containers is enough.
        return State(
            dict(self.orders),
            dict(self.payments),
            dict(self.kept),
            set(self.claimed),
            list(self.emitted),
        )

    def commit(self, staged: State) -> None:
        self.orders = staged.orders
        self.payments = staged.payments
        self.kept = staged.kept
        self.claimed = staged.claimed
        self.emitted = staged.emitted


class InMemoryOrderReplica:
    """``ports.OrderReplica`` on ``state`` (committed, or a transaction's copy)."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def get(self, order_id: str) -> Order | None:
        return self._state.orders.get(order_id)

    async def add_if_absent(self, order: Order) -> bool:
        if order.id in self._state.orders:
            return False
        self._state.orders[order.id] = order
        return True

    async def save(self, order: Order) -> None:
        current = self._state.orders.get(order.id)
        if current is None or current.version != order.version - 1:
            raise Conflict(f"order {order.id} changed after version {order.version - 1}")
        # paid_by is written by keep_payment only, as on MongoDB.
        self._state.orders[order.id] = replace(order, paid_by=current.paid_by)

    async def keep_payment(self, order: Order) -> None:
        current = self._state.orders.get(order.id)
        if current is None or current.version != order.version or current.paid_by is not None:
            raise Conflict(f"order {order.id} changed while keeping payment {order.paid_by}")
        self._state.orders[order.id] = replace(current, paid_by=order.paid_by)

    async def take_snapshot(self, order: Order, *, over: int) -> bool:
        current = self._state.orders.get(order.id)
        if current is None or current.version != over:
            return False
        self._state.orders[order.id] = replace(order, paid_by=current.paid_by)
        return True


class InMemoryPaymentRepository:
    """``ports.PaymentRepository`` on ``state``, with MongoDB's two unique indexes."""

    def __init__(self, state: State) -> None:
        self._state = state

    async def add(self, payment: Payment) -> None:
        for other in self._state.payments.values():
            same_intent = other.stripe_id == payment.stripe_id
            both_kept = other.kept and payment.kept and other.order_id == payment.order_id
            if other.id == payment.id or same_intent or both_kept:
                raise Conflict(f"payment for order {payment.order_id} recorded concurrently")
        self._state.payments[payment.id] = payment

    async def save(self, payment: Payment, *, was: PaymentStatus) -> None:
        current = self._state.payments.get(payment.id)
        if current is None or current.status is not was:
            raise Conflict(f"payment {payment.id} is no longer {was.value}")
        self._state.payments[payment.id] = payment

    async def for_intent(self, intent_id: str) -> Payment | None:
        return next((p for p in self._state.payments.values() if p.stripe_id == intent_id), None)

    async def kept_for(self, order_id: str) -> Payment | None:
        return next(
            (p for p in self._state.payments.values() if p.order_id == order_id and p.kept), None
        )

    async def of_order(self, order_id: str) -> list[Payment]:
        return [p for p in self._state.payments.values() if p.order_id == order_id]

    async def refunds_due(self, now: datetime, *, limit: int) -> list[Payment]:
        due = [
            p
            for p in self._state.payments.values()
            if p.status is PaymentStatus.REFUNDING
            and p.next_refund_at is not None
            and p.next_refund_at <= now
        ]
        return sorted(due, key=lambda p: p.next_refund_at or now)[:limit]


class InMemoryTransaction:
    """``ports.Transaction`` on a copy of the state, committed if the transaction ends well."""

    def __init__(self, staged: State) -> None:
        self.staged = staged
        self.orders = InMemoryOrderReplica(staged)
        self.payments = InMemoryPaymentRepository(staged)
        self.kept: InMemoryResults[Payment] = InMemoryResults(staged.kept)
        self.discarded = False

    async def emit(self, *events: Event) -> None:
        self.staged.emitted.extend(events)

    async def claim(self, message_id: str) -> bool:
        if message_id in self.staged.claimed:
            self.discarded = True  # as on MongoDB: nothing is committed for a duplicate
            return False
        self.staged.claimed.add(message_id)
        return True


class InMemoryUnitOfWork:
    """``ports.UnitOfWork`` on ``state``: one transaction at a time."""

    def __init__(self, state: State) -> None:
        self._state = state
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[InMemoryTransaction]:
        async with self._lock:
            tx = InMemoryTransaction(self._state.copy())
            yield tx
            if not tx.discarded:
                self._state.commit(tx.staged)

    async def run(self, work: Callable[[InMemoryTransaction], Awaitable[T]]) -> T:
        # The same re-runs as shared.messaging.UnitOfWork.run.
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                async with self() as tx:
                    return await work(tx)
            except Conflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                await asyncio.sleep(random.uniform(0, CONFLICT_BACKOFF_S * 2**attempt))
        raise AssertionError("unreachable")
