"""tickets' use cases: one function per action. Each takes its dependencies."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bson import ObjectId

from services.tickets.adapters.tickets import MongoTicketRepository
from services.tickets.domain import Ticket
from shared.errors import NotFound
from shared.events import OrderCancelled, OrderCreated
from shared.messaging import RetryLater, Transaction, UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    tickets: MongoTicketRepository
    uow: UnitOfWork


async def create_ticket(title: str, price_cents: int, user_id: str, *, deps: Deps) -> Ticket:
    """Put a ticket on sale (version 0) and announce ``ticket.created``."""
    ticket = Ticket(id=str(ObjectId()), title=title, price_cents=price_cents, user_id=user_id)

    async def work(tx: Transaction) -> Ticket:
        await deps.tickets.add(ticket, session=tx.session)
        await tx.emit(ticket.created_event())
        return ticket

    return await deps.uow.run(work)


async def update_ticket(
    ticket_id: str, title: str, price_cents: int, user_id: str, *, deps: Deps
) -> Ticket:
    """Edit title and price as the seller of an unreserved ticket; ``ticket.updated``.

    A concurrent edit makes the versioned save conflict; the whole edit then re-runs on
    the fresh ticket, so no accepted update is ever overwritten unseen.
    """

    async def work(tx: Transaction) -> Ticket:
        current = await deps.tickets.get(ticket_id, session=tx.session)
        if current is None:
            raise NotFound()
        ticket = current.edited(title=title, price_cents=price_cents, by_user=user_id)
        await deps.tickets.save(ticket, session=tx.session)
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


async def reserve_for_order(event: OrderCreated, message_id: str, *, deps: Deps) -> None:
    """Lock the ticket for the new order. Replay-safe: a repeat or a re-lock is a no-op,
    and so is an order.created that arrives after its order's cancellation."""

    async def work(tx: Transaction) -> None:
        if not await tx.claim(message_id):
            return
        if await deps.tickets.was_cancelled(event.id, session=tx.session):
            # Handled out of order (two deliveries at once, or a retry): locking now
            # would keep the ticket for an order that is over.
            log.info(
                "order %s was cancelled already; ticket %s stays free", event.id, event.ticket.id
            )
            return
        ticket = await deps.tickets.get(event.ticket.id, session=tx.session)
        if ticket is None:
            raise RetryLater(f"ticket {event.ticket.id} of order {event.id} is unknown")
        if ticket.order_id == event.id:
            return
        if ticket.reserved:
            # The previous holder's cancellation has not reached us yet.
            raise RetryLater(f"ticket {ticket.id} still held by order {ticket.order_id}")
        reserved = ticket.reserved_for(event.id)
        await deps.tickets.save(reserved, session=tx.session)
        await tx.emit(reserved.updated_event())
        log.info("ticket %s reserved for order %s", ticket.id, event.id)

    await deps.uow.run(work)


async def release_for_order(event: OrderCancelled, message_id: str, *, deps: Deps) -> None:
    """Unlock the ticket if *this* order still holds it. Replay-safe."""

    async def work(tx: Transaction) -> None:
        if not await tx.claim(message_id):
            return
        ticket = await deps.tickets.get(event.ticket.id, session=tx.session)
        if ticket is None:
            raise RetryLater(f"ticket {event.ticket.id} of order {event.id} is unknown")
        await deps.tickets.remember_cancelled(event.id, session=tx.session)
        if ticket.order_id != event.id:
            # A stale cancellation must never unlock a ticket another order holds.
            log.info("order %s does not hold ticket %s; nothing to release", event.id, ticket.id)
            return
        released = ticket.released()
        await deps.tickets.save(released, session=tx.session)
        await tx.emit(released.updated_event())
        log.info("ticket %s released by order %s", ticket.id, event.id)

    await deps.uow.run(work)
