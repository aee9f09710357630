"""One contract for tickets' ports, run against the Mongo adapters (on mongoeco) and
against the in-memory twins the unit tests use: the same version rule, the same inbox
rule, and nothing of an abandoned transaction is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from bson import ObjectId

from services.tickets.adapters.memory import InMemoryTicketCatalog, InMemoryUnitOfWork
from services.tickets.adapters.tickets import MongoTicketCatalog, MongoUnitOfWork, create_indexes
from services.tickets.domain import Ticket
from services.tickets.ports import TicketCatalog, Transaction, UnitOfWork
from shared.errors import Conflict
from shared.events import TicketUpdated
from shared.messaging import Inbox, Outbox
from shared.messaging import UnitOfWork as SharedUnitOfWork
from shared.mongo import Mongo


@dataclass
class Ports:
    uow: UnitOfWork
    catalog: TicketCatalog
    mongo: Mongo | None = None
    memory: InMemoryUnitOfWork | None = None

    async def committed_events(self) -> list[str]:
        """The routing keys of the events committed so far, oldest first."""
        if self.memory is not None:
            return [event.routing_key for event in self.memory.published]
        assert self.mongo is not None
        cursor = self.mongo.db.outbox.find({}).sort("created_at", 1)
        return [doc["routing_key"] async for doc in cursor]


@pytest.fixture(params=["memory", "mongo"])
def mongo_or_not(request: pytest.FixtureRequest) -> Mongo | None:
    # Asked for here, synchronously: an async fixture cannot ask for another one by name.
    return request.getfixturevalue("mongo") if request.param == "mongo" else None


@pytest.fixture
async def ports(mongo_or_not: Mongo | None) -> AsyncIterator[Ports]:
    if mongo_or_not is None:
        memory = InMemoryUnitOfWork()
        yield Ports(memory, InMemoryTicketCatalog(memory), memory=memory)
        return
    mongo = mongo_or_not
    await create_indexes(mongo.db)
    inbox = Inbox(mongo.db, "tickets")
    await inbox.ensure_indexes()
    shared = SharedUnitOfWork(mongo, Outbox(mongo.db), inbox=inbox)
    yield Ports(MongoUnitOfWork(mongo.db, shared), MongoTicketCatalog(mongo.db), mongo=mongo)


def a_ticket(title: str = "concert") -> Ticket:
    return Ticket(id=str(ObjectId()), title=title, price_cents=2000, user_id=str(ObjectId()))


async def save_alone(ports: Ports, ticket: Ticket) -> None:
    async with ports.uow() as tx:
        await tx.tickets.save(ticket)


async def test_an_added_ticket_is_read_back_inside_and_outside_a_transaction(ports: Ports) -> None:
    ticket = a_ticket()
    async with ports.uow() as tx:
        await tx.tickets.add(ticket)
        assert await tx.tickets.get(ticket.id) == ticket

    assert await ports.catalog.get(ticket.id) == ticket
    assert await ports.catalog.get(str(ObjectId())) is None
    assert await ports.catalog.get("not-an-id") is None


async def test_a_save_stores_the_next_version_only(ports: Ports) -> None:
    ticket = a_ticket()
    async with ports.uow() as tx:
        await tx.tickets.add(ticket)

    reserved = ticket.reserved_for(str(ObjectId()))
    async with ports.uow() as tx:
        await tx.tickets.save(reserved)
    assert await ports.catalog.get(ticket.id) == reserved

    # ``ticket`` edited again from version 0: version 1 is taken already.
    stale = ticket.released()
    skipping = reserved.released().released()  # version 3 over version 1
    for refused in (stale, skipping):
        with pytest.raises(Conflict):
            await save_alone(ports, refused)
    assert await ports.catalog.get(ticket.id) == reserved


async def test_nothing_of_a_failed_transaction_is_kept(ports: Ports) -> None:
    ticket = a_ticket()

    async def write_then_fail() -> None:
        async with ports.uow() as tx:
            await tx.tickets.add(ticket)
            await tx.cancelled_orders.remember("order-1")
            await tx.emit(ticket.created_event())
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        await write_then_fail()

    assert await ports.catalog.get(ticket.id) is None
    assert await ports.committed_events() == []
    async with ports.uow() as tx:
        assert not await tx.cancelled_orders.include("order-1")


async def test_events_are_kept_with_the_commit_in_order(ports: Ports) -> None:
    ticket = a_ticket()
    async with ports.uow() as tx:
        await tx.tickets.add(ticket)
        ids = await tx.emit(ticket.created_event(), ticket.updated_event())

    assert len(set(ids)) == 2
    assert await ports.committed_events() == ["ticket.created", TicketUpdated.routing_key]


async def test_a_message_id_is_claimed_once_and_its_repeat_keeps_nothing(ports: Ports) -> None:
    async with ports.uow() as tx:
        assert await tx.claim("message-1")
        await tx.cancelled_orders.remember("order-1")

    ticket = a_ticket()
    async with ports.uow() as tx:
        assert not await tx.claim("message-1")
    async with ports.uow() as tx:
        assert await tx.claim("message-2")
        await tx.tickets.add(ticket)
    async with ports.uow() as tx:
        assert await tx.cancelled_orders.include("order-1")
        assert not await tx.cancelled_orders.include("order-2")
    assert await ports.catalog.get(ticket.id) == ticket


async def test_run_re_runs_the_work_after_a_conflict(ports: Ports) -> None:
    ticket = a_ticket()
    async with ports.uow() as tx:
        await tx.tickets.add(ticket)
    attempts = 0

    async def work(tx: Transaction) -> str:
        nonlocal attempts
        attempts += 1
        current = await tx.tickets.get(ticket.id)
        assert current is not None
        if attempts == 1:
            raise Conflict("someone else won")
        return current.title

    assert await ports.uow.run(work) == "concert"
    assert attempts == 2


async def test_the_catalog_lists_unreserved_tickets_oldest_first(ports: Ports) -> None:
    first, held, last = a_ticket("first"), a_ticket("held"), a_ticket("last")
    async with ports.uow() as tx:
        for ticket in (first, held, last):
            await tx.tickets.add(ticket)
        await tx.tickets.save(held.reserved_for(str(ObjectId())))

    assert [t.title for t in await ports.catalog.unreserved()] == ["first", "last"]


async def test_tickets_are_paged_in_id_order(ports: Ports) -> None:
    tickets = [a_ticket(f"t{n}") for n in range(5)]
    async with ports.uow() as tx:
        for ticket in tickets:
            await tx.tickets.add(ticket)
    by_id = sorted(tickets, key=lambda ticket: ticket.id)
    async with ports.uow() as tx:
        first = await tx.tickets.page(None, 2)
        rest = await tx.tickets.page(first[-1].id, 10)
    assert first == by_id[:2]
    assert rest == by_id[2:]
