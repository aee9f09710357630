"""tickets' use cases on the in-memory twins: milliseconds each, no broker, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from services.tickets import service
from services.tickets.adapters.memory import InMemoryTicketCatalog, InMemoryUnitOfWork
from services.tickets.adapters.tickets import CANCELLED_ORDERS_KEPT_S
from services.tickets.domain import Ticket, TicketReserved
from services.tickets.service import Deps, EditTicket, SellTicket
from services.tickets.tests.conftest import order_created
from shared.errors import NotAuthorized, NotFound
from shared.events import (
    OrderCancelled,
    OrderCreated,
    TicketCreated,
    TicketId,
    TicketUpdated,
)
from shared.messaging import RetryLater
from shared.messaging.outcome import counting

SELLER = str(ObjectId())


@pytest.fixture
def memory() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork()


@pytest.fixture
def deps(memory: InMemoryUnitOfWork) -> Deps:
    return Deps(uow=memory, tickets=InMemoryTicketCatalog(memory))


def cancelled(order: OrderCreated) -> OrderCancelled:
    return OrderCancelled(id=order.id, version=1, ticket=TicketId(id=order.ticket.id))


async def sell(deps: Deps, title: str = "concert") -> Ticket:
    return await service.create_ticket(SellTicket(title, 2000), SELLER, deps=deps)


async def test_a_ticket_on_sale_is_version_0_and_announced(
    deps: Deps, memory: InMemoryUnitOfWork
) -> None:
    ticket = await sell(deps)

    assert (ticket.version, ticket.order_id, ticket.user_id) == (0, None, SELLER)
    assert await service.show_ticket(ticket.id, deps=deps) == ticket
    assert memory.published == [ticket.created_event()]
    assert isinstance(memory.published[0], TicketCreated)


async def test_the_seller_edits_title_and_price_into_the_next_version(
    deps: Deps, memory: InMemoryUnitOfWork
) -> None:
    ticket = await sell(deps)

    edited = await service.update_ticket(ticket.id, EditTicket("opera", 1250), SELLER, deps=deps)

    assert (edited.title, edited.price_cents, edited.version) == ("opera", 1250, 1)
    assert await service.show_ticket(ticket.id, deps=deps) == edited
    assert memory.published[-1] == edited.updated_event()


async def test_only_the_seller_edits_only_an_existing_unreserved_ticket(deps: Deps) -> None:
    ticket = await sell(deps)
    edit = EditTicket("opera", 1250)

    with pytest.raises(NotAuthorized):
        await service.update_ticket(ticket.id, edit, str(ObjectId()), deps=deps)
    with pytest.raises(NotFound):
        await service.update_ticket(str(ObjectId()), edit, SELLER, deps=deps)
    await service.apply_order_created(order_created(ticket.id), "m-1", deps=deps)
    with pytest.raises(TicketReserved):
        await service.update_ticket(ticket.id, edit, SELLER, deps=deps)
    assert (await service.show_ticket(ticket.id, deps=deps)).title == "concert"


async def test_an_order_created_reserves_the_ticket_once(
    deps: Deps, memory: InMemoryUnitOfWork
) -> None:
    ticket = await sell(deps)
    order = order_created(ticket.id)

    await service.apply_order_created(order, "m-1", deps=deps)
    await service.apply_order_created(order, "m-1", deps=deps)  # redelivered
    await service.apply_order_created(order, "m-2", deps=deps)  # re-published

    held = await service.show_ticket(ticket.id, deps=deps)
    assert (held.order_id, held.version) == (order.id, 1)
    assert [e for e in memory.published if isinstance(e, TicketUpdated)] == [held.updated_event()]
    assert await service.list_available(deps=deps) == []


async def test_a_ticket_another_order_holds_is_retried_later(deps: Deps) -> None:
    ticket = await sell(deps)
    await service.apply_order_created(order_created(ticket.id), "m-1", deps=deps)

    with pytest.raises(RetryLater):
        await service.apply_order_created(order_created(ticket.id), "m-2", deps=deps)
    with pytest.raises(RetryLater):
        await service.apply_order_created(order_created("x" * 24), "m-3", deps=deps)


async def test_an_order_cancelled_releases_only_the_ticket_it_holds(deps: Deps) -> None:
    ticket = await sell(deps)
    first, second = order_created(ticket.id), order_created(ticket.id)
    await service.apply_order_created(first, "m-1", deps=deps)
    await service.apply_order_cancelled(cancelled(first), "m-2", deps=deps)
    await service.apply_order_created(second, "m-3", deps=deps)

    # first's cancellation, re-published after second took the ticket: stale.
    await service.apply_order_cancelled(cancelled(first), "m-4", deps=deps)

    held = await service.show_ticket(ticket.id, deps=deps)
    assert (held.order_id, held.version) == (second.id, 3)


async def test_an_order_created_after_its_cancellation_holds_nothing(deps: Deps) -> None:
    ticket = await sell(deps)
    order = order_created(ticket.id)

    await service.apply_order_cancelled(cancelled(order), "m-1", deps=deps)
    await service.apply_order_created(order, "m-2", deps=deps)

    free = await service.show_ticket(ticket.id, deps=deps)
    assert (free.order_id, free.version) == (None, 0)
    assert await service.list_available(deps=deps) == [free]


async def test_a_replayed_order_created_past_its_expiry_reserves_nothing(
    deps: Deps, memory: InMemoryUnitOfWork
) -> None:
    # Older than the inbox and the cancelled-orders set remember: only expiresAt tells.
    ticket = await sell(deps)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    at_now = Deps(uow=deps.uow, tickets=deps.tickets, clock=lambda: now)
    old = order_created(ticket.id, expires_at=now - timedelta(days=30))

    with counting() as outcome:
        await service.apply_order_created(old, "m-old", deps=at_now)

    free = await service.show_ticket(ticket.id, deps=deps)
    assert (free.order_id, free.version) == (None, 0)
    assert outcome.duplicate
    assert not [e for e in memory.published if isinstance(e, TicketUpdated)]


async def test_an_order_created_before_its_expiry_reserves_the_ticket(deps: Deps) -> None:
    ticket = await sell(deps)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    at_now = Deps(uow=deps.uow, tickets=deps.tickets, clock=lambda: now)
    live = order_created(ticket.id, expires_at=now + timedelta(seconds=1))

    with counting() as outcome:
        await service.apply_order_created(live, "m-1", deps=at_now)

    held = await service.show_ticket(ticket.id, deps=deps)
    assert held.order_id == live.id
    assert not outcome.duplicate


async def test_an_order_created_late_past_its_hold_still_reserves_the_ticket(deps: Deps) -> None:
    # Live, after an outage: the order may have been paid in time, and a paid order's
    # ticket must be reserved (not editable, not listed).
    ticket = await sell(deps)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    at_now = Deps(uow=deps.uow, tickets=deps.tickets, clock=lambda: now)
    late = order_created(ticket.id, expires_at=now - timedelta(hours=2))

    await service.apply_order_created(late, "m-late", deps=at_now)

    held = await service.show_ticket(ticket.id, deps=deps)
    assert held.order_id == late.id


def test_a_replay_is_told_apart_only_past_what_tickets_remembers() -> None:
    # FORGOTTEN_AFTER must stay under the cancelled-orders set's memory, with room for a hold.
    remembered = timedelta(seconds=CANCELLED_ORDERS_KEPT_S)

    assert timedelta(hours=1) < service.FORGOTTEN_AFTER <= remembered - timedelta(days=1)
