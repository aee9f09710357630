"""tickets' use cases: one function per action. Each takes its dependencies (ports only)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from services.tickets.domain import Ticket
from services.tickets.ports import Clock, TicketCatalog, Transaction, UnitOfWork
from shared.errors import NotFound
from shared.events import OrderCancelled, OrderCreated, SnapshotRequested
from shared.messaging import RetryLater
from shared.messaging.outcome import duplicate
from shared.replica import publish_snapshots

log = logging.getLogger(__name__)

# Tickets re-published per transaction for a replica's rebuild: a large store never builds
# one huge transaction.
SNAPSHOT_BATCH = 100
# An order.created this long past its expiresAt may be older than what tickets remembers of it
# (the cancelled-orders set keeps a cancellation 7 days, the inbox a message id 14): only a
# replay of an old stretch of the event log can bring one, never a live delivery, whose
# retries give up within minutes. A day under the 7, for holds of up to a day.
FORGOTTEN_AFTER = timedelta(days=6)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    uow: UnitOfWork  # writes, and the events they announce, in one transaction
    tickets: TicketCatalog  # reads for the pages
    clock: Clock = utc_now  # to tell an order.created past its order's hold


@dataclass(frozen=True)
class SellTicket:
    """POST /api/tickets, loaded."""

    title: str
    price_cents: int


@dataclass(frozen=True)
class EditTicket:
    """PUT /api/tickets/{id}, loaded."""

    title: str
    price_cents: int


async def create_ticket(command: SellTicket, user_id: str, *, deps: Deps) -> Ticket:
    """Put a ticket on sale (version 0) and announce ``ticket.created``."""
    ticket = Ticket(
        id=str(ObjectId()), title=command.title, price_cents=command.price_cents, user_id=user_id
    )

    async def work(tx: Transaction) -> Ticket:
        await tx.tickets.add(ticket)
        await tx.emit(ticket.created_event())
        return ticket

    return await deps.uow.run(work)


async def update_ticket(ticket_id: str, command: EditTicket, user_id: str, *, deps: Deps) -> Ticket:
    """Edit title and price as the seller of an unreserved ticket; ``ticket.updated``.

    A concurrent edit makes the versioned save conflict; the whole edit then re-runs on
    the fresh ticket, so no accepted update is ever overwritten unseen.
    """

    async def work(tx: Transaction) -> Ticket:
        current = await tx.tickets.get(ticket_id)
        if current is None:
            raise NotFound()
        ticket = current.edited(
            title=command.title, price_cents=command.price_cents, by_user=user_id
        )
        await tx.tickets.save(ticket)
        await tx.emit(ticket.updated_event())
        return ticket

    return await deps.uow.run(work)


async def show_ticket(ticket_id: str, *, deps: Deps) -> Ticket:
    ticket = await deps.tickets.get(ticket_id)
    if ticket is None:
        raise NotFound()
    return ticket


async def list_available(*, deps: Deps) -> list[Ticket]:
    """Tickets nobody holds: a reserved or sold ticket is not for sale."""
    return await deps.tickets.unreserved()


async def apply_order_created(event: OrderCreated, message_id: str, *, deps: Deps) -> None:
    """Reserve the ticket for the new order. Replay-safe: a repeat or a re-lock is a
    no-op, and so is an order.created that arrives after its order's cancellation, or
    replayed from longer ago than tickets remembers (``FORGOTTEN_AFTER``)."""

    async def work(tx: Transaction) -> None:
        if not await tx.claim(message_id):
            return
        if await tx.cancelled_orders.include(event.id):
            # Handled out of order (two deliveries at once, or a retry): locking now
            # would keep the ticket for an order that is over.
            log.info(
                "order %s was cancelled already; ticket %s stays free", event.id, event.ticket.id
            )
            return
        if event.expires_at <= deps.clock() - FORGOTTEN_AFTER:
            # Replayed from an old stretch of the log, past the inbox and the cancelled-orders
            # set: the order was settled long ago. Paid: this event was applied then and the
            # ticket is still reserved for it. Cancelled: its order.cancelled is long past,
            # and a reservation now would keep a free ticket for a dead order for ever. So
            # nothing new is applied. (A live order.created late past a hold of minutes, say
            # after an outage, still reserves: its order may have been paid in time.)
            duplicate(f"order {event.id} expired at {event.expires_at.isoformat()}")
            log.info(
                "order %s expired at %s, before what tickets remembers; ticket %s is not "
                "reserved for it",
                event.id,
                event.expires_at.isoformat(),
                event.ticket.id,
            )
            return
        ticket = await tx.tickets.get(event.ticket.id)
        if ticket is None:
            raise RetryLater(f"ticket {event.ticket.id} of order {event.id} is unknown")
        if ticket.order_id == event.id:
            return
        if ticket.reserved:
            # The previous holder's cancellation has not reached us yet.
            raise RetryLater(f"ticket {ticket.id} still held by order {ticket.order_id}")
        reserved = ticket.reserved_for(event.id)
        await tx.tickets.save(reserved)
        await tx.emit(reserved.updated_event())
        log.info("ticket %s reserved for order %s", ticket.id, event.id)

    await deps.uow.run(work)


async def apply_order_cancelled(event: OrderCancelled, message_id: str, *, deps: Deps) -> None:
    """Release the ticket if *this* order still holds it. Replay-safe."""

    async def work(tx: Transaction) -> None:
        if not await tx.claim(message_id):
            return
        ticket = await tx.tickets.get(event.ticket.id)
        if ticket is None:
            raise RetryLater(f"ticket {event.ticket.id} of order {event.id} is unknown")
        await tx.cancelled_orders.remember(event.id)
        if ticket.order_id != event.id:
            # A stale cancellation must never unlock a ticket another order holds.
            log.info("order %s does not hold ticket %s; nothing to release", event.id, ticket.id)
            return
        released = ticket.released()
        await tx.tickets.save(released)
        await tx.emit(released.updated_event())
        log.info("ticket %s released by order %s", ticket.id, event.id)

    await deps.uow.run(work)


async def publish_ticket_snapshots(request: SnapshotRequested, *, deps: Deps) -> int:
    """Re-publish every ticket as ``ticket.snapshot`` (``shared.replica.publish_snapshots``),
    then ``snapshot.completed``; for a request of another entity, nothing. Replay-safe: a
    repeat publishes them again, which replicas ignore (not newer)."""
    if request.entity != "ticket":
        return 0

    async def page(tx: Transaction, after: str | None, limit: int) -> list[Ticket]:
        return await tx.tickets.page(after, limit)

    published = await publish_snapshots(
        request,
        run=deps.uow.run,
        page=page,
        snapshot=lambda ticket: ticket.snapshot_event(request.request_id),
        batch_size=SNAPSHOT_BATCH,
    )
    log.info("%d ticket snapshots published for %s", published, request.requester)
    return published
