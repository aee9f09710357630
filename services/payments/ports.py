"""What payments' use cases need from the world, as Protocols; adapters/ implements them.

Two implementations of each storage port exist: MongoDB's (``adapters.orders``,
``adapters.payments``, ``adapters.uow``) and in-memory twins
(``adapters.memory``) that keep the same version and uniqueness rules; one contract
suite (tests/contract) runs against both, so a twin cannot drift from the real thing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, TypeVar

from services.payments.domain import Intent, Order, Payment, PaymentStatus, StripeEvent
from shared.events import Event
from shared.idempotency import Results

T = TypeVar("T")

Clock = Callable[[], datetime]


class OrderReplica(Protocol):
    """payments' copy of each order, at the orders service's versions.

    Every write states what it expects; a replica that changed meanwhile is
    ``shared.errors.Conflict``.
    """

    async def get(self, order_id: str) -> Order | None: ...

    async def add_if_absent(self, order: Order) -> bool:
        """Store a new replica, with ``order.paid_by``: the payment payments' own records say
        it keeps (None, unless a rebuild dropped the replica); False (and nothing changed)
        when the order is known."""
        ...

    async def save(self, order: Order) -> None:
        """Store ``order`` (the next version) if the replica is still at the version before."""
        ...

    async def keep_payment(self, order: Order) -> None:
        """Record that ``order`` keeps ``order.paid_by``, if it is still at its version and
        unpaid. The write (not only the read) is what makes a racing cancellation conflict."""
        ...

    async def take_snapshot(self, order: Order, *, over: int) -> bool:
        """Store the owner's fields of ``order`` (a snapshot's version) if the replica still
        holds version ``over``, leaving ``paid_by`` as it is; False (nothing changed) if not."""
        ...


class PaymentRepository(Protocol):
    """One record per PaymentIntent; at most one kept (succeeded) payment per order."""

    async def add(self, payment: Payment) -> None:
        """Record a new payment; ``Conflict`` if its intent, or a kept payment of its
        order, is recorded already."""
        ...

    async def save(self, payment: Payment, *, was: PaymentStatus) -> None:
        """Store ``payment`` if its record still has status ``was``; else ``Conflict``."""
        ...

    async def for_intent(self, intent_id: str) -> Payment | None: ...

    async def kept_for(self, order_id: str) -> Payment | None:
        """The payment the order keeps, if any."""
        ...

    async def of_order(self, order_id: str) -> list[Payment]:
        """Every payment taken for the order, oldest first."""
        ...

    async def refunds_due(self, now: datetime, *, limit: int) -> list[Payment]:
        """``refunding`` payments whose next attempt is due, the longest waiting first."""
        ...


class PaymentGateway(Protocol):
    """What the use cases need from Stripe (``adapters.stripe.StripeGateway``)."""

    async def charge(
        self,
        order_id: str,
        amount_cents: int,
        token: str,
        *,
        return_url: str | None = None,
        attempt: str | None = None,
    ) -> Intent:
        """The order's one PaymentIntent, confirmed with ``token`` (a PaymentMethod id, a
        legacy card token, or a ConfirmationToken). ``return_url``: where a 3-D Secure
        redirect brings the buyer back. ``attempt``: the buyer's request key, so that
        only a repeat of one request is one confirmation (a new try after a failed
        challenge is a new one)."""
        ...

    async def intent_of_order(self, order_id: str, amount_cents: int) -> Intent:
        """The order's PaymentIntent as Stripe has it now (made, unconfirmed, if none was)."""
        ...

    async def refund(self, intent_id: str) -> str: ...

    def parse_webhook(self, payload: bytes, signature: str | None) -> StripeEvent: ...


class Transaction(Protocol):
    """One transaction: repositories bound to it, its events, its inbox."""

    @property
    def orders(self) -> OrderReplica: ...

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def kept(self) -> Results[Payment]:
        """Kept payments remembered for repeats of a keyed request (``Idempotency-Key``)."""
        ...

    async def emit(self, *events: Event) -> None:
        """Publish ``events`` once (and only if) this transaction commits."""
        ...

    async def claim(self, message_id: str) -> bool:
        """Record ``message_id`` as handled; False (and nothing is committed) if it was."""
        ...


class UnitOfWork(Protocol):
    """Opens transactions: ``async with deps.uow() as tx``, or ``run`` to re-run on a conflict."""

    def __call__(self) -> AbstractAsyncContextManager[Transaction]:
        """Commit on clean exit, abort on error; a racing writer is ``Conflict``."""
        ...

    async def run(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        """Run ``work`` in a transaction, from the start again after each ``Conflict``."""
        ...
