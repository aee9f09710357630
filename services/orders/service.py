"""orders' use cases: one function per action. Each takes its dependencies (ports only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from services.orders.domain import Order, Ticket, TicketAlreadyReserved, TooManyOpenOrders
from services.orders.ports import Clock, OrderQueries, Transaction, UnitOfWork
from shared.errors import Conflict, NotAuthorized, NotFound
from shared.events import OrderStatus, TicketCreated, TicketUpdated
from shared.idempotency import IdempotencyKey, run_once
from shared.messaging import RetryLater
from shared.messaging.outcome import duplicate
from shared.replica import VersionStep

log = logging.getLogger(__name__)

# Orders the sweep cancels per round; the next round takes the rest.
SWEEP_BATCH = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWork  # writes, and the events they announce, in one transaction
    orders: OrderQueries  # reads for the pages and the sweep
    hold_s: float
    max_open_per_user: int = 5
    clock: Clock = utc_now


@dataclass(frozen=True)
class PlaceOrder:
    """POST /api/orders, loaded."""

    ticket_id: str


async def place_order(
    command: PlaceOrder,
    user_id: str,
    *,
    idempotency: IdempotencyKey | None = None,
    deps: Deps,
) -> Order:
    """Reserve the ticket for the user until now + the hold; announce ``order.created``.

    Atomic: of any number of concurrent orders for one ticket, exactly one holds it, and
    of a buyer's concurrent orders no more than ``max_open_per_user`` are open at once.
    A seller cannot order their own ticket. With an idempotency key, a repeat returns the
    first order and reserves nothing.
    """
    order_id = str(ObjectId())

    async def reserve(tx: Transaction) -> Order:
        ticket = await tx.tickets.get(command.ticket_id)
        if ticket is None:
            raise NotFound()
        ticket.check_orderable_by(user_id)
        await tx.orders.lock_buyer(user_id)
        if await tx.orders.count_open(user_id) >= deps.max_open_per_user:
            raise TooManyOpenOrders(deps.max_open_per_user)
        if not await tx.tickets.hold(ticket.id, order_id):
            raise TicketAlreadyReserved()
        order = Order.place(
            order_id=order_id, user_id=user_id, ticket=ticket, now=deps.clock(), hold_s=deps.hold_s
        )
        await tx.orders.add(order)
        await tx.emit(order.created_event())
        log.info("order %s reserved ticket %s until %s", order.id, ticket.id, order.expires_at)
        return order

    async def work(tx: Transaction) -> Order:
        # A repeat of the key finds the first order in this transaction and reserves nothing.
        return await run_once(tx.idempotency, idempotency, lambda: reserve(tx))

    return await deps.uow.run(work)


async def list_orders(user_id: str, *, deps: Deps) -> list[Order]:
    """Every order of the user, whatever its status."""
    return await deps.orders.of_user(user_id)


async def show_order(order_id: str, user_id: str, *, deps: Deps) -> Order:
    """The user's own order; someone else's is not theirs to see."""
    order = await deps.orders.get(order_id)
    if order is None:
        raise NotFound()
    if order.user_id != user_id:
        raise NotAuthorized()
    return order


async def _cancel(order: Order, tx: Transaction) -> Order:
    cancelled = order.cancelled()
    await tx.orders.save(cancelled)
    await tx.tickets.release(order.ticket.id, order.id)
    await tx.emit(cancelled.cancelled_event())
    return cancelled


async def cancel_order(order_id: str, user_id: str, *, deps: Deps) -> Order:
    """The buyer gives the ticket back; ``order.cancelled``. Cancelling twice is harmless."""

    async def work(tx: Transaction) -> Order:
        order = await tx.orders.get(order_id)
        if order is None:
            raise NotFound()
        if order.user_id != user_id:
            raise NotAuthorized()
        if order.status is OrderStatus.CANCELLED:
            return order
        cancelled = await _cancel(order, tx)
        log.info("order %s cancelled by its buyer", order.id)
        return cancelled

    return await deps.uow.run(work)


async def expire_order(order_id: str, *, deps: Deps) -> None:
    """The hold ran out: cancel unless paid or already cancelled. Replay-safe."""

    async def work(tx: Transaction) -> None:
        order = await tx.orders.get(order_id)
        if order is None:
            raise RetryLater(f"order {order_id} is unknown")
        if order.settled:
            log.info("order %s is %s; its expiry changes nothing", order.id, order.status)
            duplicate(f"order {order.id} is {order.status} already")
            return
        await _cancel(order, tx)
        log.info("order %s expired", order.id)

    await deps.uow.run(work)


async def complete_order(order_id: str, *, deps: Deps) -> None:
    """The order was paid for; it now keeps its ticket for good. Replay-safe."""

    async def work(tx: Transaction) -> None:
        order = await tx.orders.get(order_id)
        if order is None:
            raise RetryLater(f"order {order_id} is unknown")
        if order.status is OrderStatus.COMPLETE:
            duplicate(f"order {order.id} is complete already")
            return
        if order.status is OrderStatus.CANCELLED:
            # A cancelled order is never paid: payments refunds a charge that loses this
            # race, and the ticket may already be someone else's.
            log.warning("payment for cancelled order %s ignored", order.id)
            duplicate(f"order {order.id} is cancelled: nothing to complete")
            return
        await tx.orders.save(order.completed())
        log.info("order %s complete", order.id)

    await deps.uow.run(work)


async def cancel_overdue(*, deps: Deps, grace_s: float) -> int:
    """Cancel `created` orders more than ``grace_s`` past expiry; how many were cancelled.

    The safety net for a lost expiration job: without it a ticket could stay held forever.
    """
    before = deps.clock() - timedelta(seconds=grace_s)
    cancelled = 0
    for order_id in await deps.orders.overdue_ids(before, limit=SWEEP_BATCH):

        async def work(tx: Transaction, order_id: str = order_id) -> bool:
            order = await tx.orders.get(order_id)
            if order is None or not order.is_overdue(before):
                return False
            await _cancel(order, tx)
            return True

        if await deps.uow.run(work):
            cancelled += 1
            log.warning("order %s was overdue; cancelled by the sweep", order_id)
    return cancelled


async def replicate_ticket(event: TicketCreated, *, deps: Deps) -> None:
    """Start replicating a ticket (version 0). Replay-safe: a repeat changes nothing."""

    async def work(tx: Transaction) -> None:
        if not await tx.tickets.add(Ticket.from_created(event)):
            log.info("ticket %s is already replicated", event.id)
            duplicate(f"ticket {event.id} is replicated already")

    await deps.uow.run(work)


async def apply_ticket_version(event: TicketUpdated, *, deps: Deps) -> None:
    """The ticket replica at its next version; an early one waits, a seen one is a duplicate."""

    async def work(tx: Transaction) -> None:
        current = await tx.tickets.get(event.id)
        if current is None:
            raise RetryLater(f"ticket {event.id} version {event.version} is early: have nothing")
        step = current.step_for(event)
        if step is VersionStep.EARLY:
            have = f"version {current.version}"
            raise RetryLater(f"ticket {event.id} version {event.version} is early: have {have}")
        if step is VersionStep.SEEN:
            log.info("ticket %s version %d already applied", event.id, event.version)
            duplicate(f"ticket {event.id} v{event.version} is applied already")
            return
        if not await tx.tickets.apply_version(current.at_version(event)):
            raise Conflict(f"ticket {event.id} changed while applying version {event.version}")

    await deps.uow.run(work)
