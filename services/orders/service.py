"""orders' use cases: one function per action. Each takes its dependencies (ports only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from services.orders.domain import (
    Order,
    OrderForSnapshot,
    OrderState,
    Ticket,
    TicketAlreadyReserved,
    TicketNotReplicated,
    TooManyOpenOrders,
)
from services.orders.ports import Clock, OrderQueries, Transaction, UnitOfWork
from shared.errors import Conflict, NotAuthorized, NotFound
from shared.events import (
    OrderStatus,
    SnapshotCompleted,
    SnapshotRequested,
    TicketCreated,
    TicketSnapshot,
    TicketUpdated,
)
from shared.idempotency import IdempotencyKey, run_once
from shared.messaging import RetryLater
from shared.messaging.outcome import duplicate
from shared.replica import (
    NoRebuilds,
    RebuildLog,
    VersionStep,
    publish_snapshots,
    takes_snapshot,
)

log = logging.getLogger(__name__)

# Orders the sweep cancels per round; the next round takes the rest.
SWEEP_BATCH = 100
# Orders re-published per transaction for another service's rebuild: a large store
# never builds one huge transaction.
SNAPSHOT_BATCH = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWork  # writes, and the events they announce, in one transaction
    orders: OrderQueries  # reads for the pages and the sweep
    hold_s: float
    max_open_per_user: int = 5
    clock: Clock = utc_now
    rebuilds: RebuildLog = field(default_factory=NoRebuilds)  # the ticket replica's


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
    if idempotency is None:
        # Most of an on-sale crowd loses the race: refuse them on a read, before they wait
        # for a transaction (one at a time, on the stand-in). A repeat of a key must reach
        # run_once instead, to be answered with its first order.
        held = await deps.orders.held_ticket(command.ticket_id)
        if held is not None:
            held.check_orderable_by(user_id)
            raise TicketAlreadyReserved()

    async def reserve(tx: Transaction) -> Order:
        # The hold comes first: of the racers for one ticket, the losers are done after one
        # more read, and a refusal after it (own ticket, too many orders) undoes it.
        ticket = await tx.tickets.hold(command.ticket_id, order_id)
        if ticket is None:
            # A commit whose answer was lost (mongod's UnknownTransactionCommitResult; on the
            # stand-in, a commit reported as a conflict) is re-run by the unit of work: then
            # this very order holds the ticket already, and it is the answer, not a refusal.
            if (placed := await tx.orders.get(order_id)) is not None:
                return placed
            known = await tx.tickets.get(command.ticket_id)
            if known is None:
                # While the replica is rebuilt an unknown ticket may just not be back yet.
                raise TicketNotReplicated() if await deps.rebuilds.running() else NotFound()
            known.check_orderable_by(user_id)
            raise TicketAlreadyReserved()
        ticket.check_orderable_by(user_id)
        await tx.orders.lock_buyer(user_id)
        if await tx.orders.count_open(user_id) >= deps.max_open_per_user:
            raise TooManyOpenOrders(deps.max_open_per_user)
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


async def _cancel(order: OrderState, tx: Transaction) -> None:
    cancelled = order.cancelled()
    await tx.orders.save(cancelled)
    await tx.tickets.release(order.ticket_id, order.id)
    await tx.emit(cancelled.cancelled_event())


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
        await _cancel(order.state, tx)
        log.info("order %s cancelled by its buyer", order.id)
        return order.cancelled()

    return await deps.uow.run(work)


async def _order_for_listener(tx: Transaction, order_id: str) -> OrderState:
    """The order an event is about, without its ticket; ``RetryLater`` while it is unknown.

    Not joined with the ticket replica: during its rebuild a ticket can be missing for
    longer than a payment's retries last, and a parked payment would let the sweep cancel
    (and payments refund) an order its buyer paid for.
    """
    order = await tx.orders.state(order_id)
    if order is None:
        raise RetryLater(f"order {order_id} is unknown")
    return order


async def expire_order(order_id: str, *, deps: Deps) -> None:
    """The hold ran out: cancel unless paid or already cancelled. Replay-safe."""

    async def work(tx: Transaction) -> None:
        order = await _order_for_listener(tx, order_id)
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
        order = await _order_for_listener(tx, order_id)
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
            try:
                order = await tx.orders.get(order_id)
            except TicketNotReplicated:
                return False  # its ticket is being rebuilt: a later round cancels it
            if order is None or not order.is_overdue(before):
                return False
            await _cancel(order.state, tx)
            return True

        if await deps.uow.run(work):
            cancelled += 1
            log.warning("order %s was overdue; cancelled by the sweep", order_id)
    return cancelled


async def replicate_ticket(event: TicketCreated, *, deps: Deps) -> None:
    """Start replicating a ticket (version 0). Replay-safe: a repeat changes nothing."""

    async def work(tx: Transaction) -> None:
        if not await tx.tickets.add(Ticket.from_event(event)):
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


async def apply_ticket_snapshot(event: TicketSnapshot, *, deps: Deps) -> None:
    """Take a ticket's snapshot if it is newer than the replica (``takes_snapshot``), then
    count it for the rebuild that asked for it. Replay-safe: a repeat is not newer.

    The snapshot replaces the tickets service's fields only; which order holds the ticket
    stays ours (a ticket new to the replica is held as our orders say).
    """

    async def work(tx: Transaction) -> None:
        current = await tx.tickets.get(event.id)
        held = current.version if current is not None else None
        if not takes_snapshot(held, event.version):
            log.info("ticket %s snapshot v%d ignored: have v%s", event.id, event.version, held)
            duplicate("the replica has this version or a later one")
            return
        ticket = Ticket.from_event(event)
        taken = (
            await tx.tickets.add(ticket)
            if held is None
            else await tx.tickets.apply_version(ticket, over=held)
        )
        if not taken:
            raise Conflict(f"ticket {event.id} changed while taking snapshot v{event.version}")
        log.info("ticket %s snapshot v%d taken over v%s", event.id, event.version, held)

    await deps.uow.run(work)
    # After the commit: a receipt always means the replica has this version or a later one.
    await deps.rebuilds.received(event.request_id, event.id)


async def note_snapshots_completed(event: SnapshotCompleted, *, deps: Deps) -> None:
    """The owner published all its snapshots for a request: the rebuild waits for that many."""
    await deps.rebuilds.completed(event.request_id, event.count)


async def publish_order_snapshots(request: SnapshotRequested, *, deps: Deps) -> int:
    """Re-publish every order as ``order.snapshot`` (``shared.replica.publish_snapshots``),
    then ``snapshot.completed``; for a request of another entity, nothing. Replay-safe: a
    repeat publishes them again, which replicas ignore (not newer)."""
    if request.entity != "order":
        return 0

    async def page(tx: Transaction, after: str | None, limit: int) -> list[OrderForSnapshot]:
        try:
            return await tx.orders.page(after, limit)
        except TicketNotReplicated:  # only an order stored before its price was kept
            raise RetryLater("our ticket replica is being rebuilt: snapshots later") from None

    published = await publish_snapshots(
        request,
        run=deps.uow.run,
        page=page,
        snapshot=lambda order: order.snapshot_event(request.request_id),
        batch_size=SNAPSHOT_BATCH,
    )
    log.info("%d order snapshots published for %s", published, request.requester)
    return published
