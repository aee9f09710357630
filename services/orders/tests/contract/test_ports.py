"""One contract for orders' ports, run against the Mongo adapters (on mongoeco) and against
the in-memory twins the unit tests use: the same version rules, one holder per ticket, an
order read with its ticket as it is now, the idempotency rules, and nothing of an abandoned
transaction kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from services.orders.adapters.memory import InMemoryOrderQueries, InMemoryUnitOfWork
from services.orders.adapters.orders import MongoOrderQueries
from services.orders.adapters.uow import MongoUnitOfWork
from services.orders.bootstrap import create_indexes
from services.orders.domain import Order, Ticket, TicketNotReplicated
from services.orders.ports import OrderQueries, UnitOfWork
from shared.errors import Conflict
from shared.idempotency import IdempotencyKey, IdempotencyKeyReused
from shared.messaging import Outbox
from shared.messaging import UnitOfWork as SharedUnitOfWork
from shared.mongo import Mongo

NOW = datetime(2026, 1, 16, 16, 31, 30, 47000, tzinfo=UTC)


@dataclass
class Ports:
    uow: UnitOfWork
    queries: OrderQueries
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
        yield Ports(memory, InMemoryOrderQueries(memory), memory=memory)
        return
    mongo = mongo_or_not
    await create_indexes(mongo.db)
    shared = SharedUnitOfWork(mongo, Outbox(mongo.db))
    yield Ports(MongoUnitOfWork(mongo.db, shared), MongoOrderQueries(mongo.db), mongo=mongo)


def a_ticket(version: int = 0, price_cents: int = 2000) -> Ticket:
    return Ticket(
        id=str(ObjectId()),
        title="concert",
        price_cents=price_cents,
        version=version,
        seller_id=str(ObjectId()),
    )


def an_order(ticket: Ticket, user_id: str = "buyer", hold_s: float = 900) -> Order:
    return Order.place(
        order_id=str(ObjectId()), user_id=user_id, ticket=ticket, now=NOW, hold_s=hold_s
    )


async def replicated(ports: Ports, ticket: Ticket) -> Ticket:
    async with ports.uow() as tx:
        assert await tx.tickets.add(ticket)
    return ticket


async def stored(ports: Ports, *orders: Order) -> None:
    async with ports.uow() as tx:
        for order in orders:
            await tx.orders.add(order)


async def test_a_ticket_is_replicated_once(ports: Ports) -> None:
    ticket = a_ticket()
    async with ports.uow() as tx:
        assert await tx.tickets.add(ticket)
        assert not await tx.tickets.add(replace(ticket, title="a duplicate"))
        assert await tx.tickets.get(ticket.id) == ticket
        assert await tx.tickets.get(str(ObjectId())) is None
        assert await tx.tickets.get("not-an-id") is None


async def test_only_the_next_version_of_a_ticket_is_applied(ports: Ports) -> None:
    ticket = await replicated(ports, a_ticket(version=3))
    async with ports.uow() as tx:
        assert not await tx.tickets.apply_version(replace(ticket, version=5, price_cents=1))
        assert not await tx.tickets.apply_version(replace(ticket, version=3, price_cents=1))
        assert await tx.tickets.apply_version(replace(ticket, version=4, price_cents=1000))
        assert await tx.tickets.get(ticket.id) == replace(ticket, version=4, price_cents=1000)


async def test_a_snapshot_version_applies_over_the_version_it_names(ports: Ports) -> None:
    ticket = await replicated(ports, a_ticket(version=3))
    async with ports.uow() as tx:
        assert not await tx.tickets.apply_version(replace(ticket, version=9), over=2)
        assert await tx.tickets.apply_version(replace(ticket, version=9, price_cents=5), over=3)
        assert await tx.tickets.get(ticket.id) == replace(ticket, version=9, price_cents=5)


async def test_a_ticket_added_back_is_held_by_the_order_that_holds_it(ports: Ports) -> None:
    held, freed = a_ticket(), a_ticket()
    holder, cancelled = an_order(held), an_order(freed).cancelled()
    # The orders are there, their tickets not (a rebuild dropped them): adding them back
    # takes the holder from the orders.
    await stored(ports, holder, cancelled)
    async with ports.uow() as tx:
        assert await tx.tickets.add(held)
        assert await tx.tickets.add(freed)
        assert not await tx.tickets.hold(held.id, "someone-else")
        assert await tx.tickets.hold(freed.id, "someone-else")


async def test_an_order_whose_ticket_is_not_replicated_is_not_readable_yet(ports: Ports) -> None:
    order = an_order(a_ticket(), user_id="buyer")
    await stored(ports, order)

    with pytest.raises(TicketNotReplicated):
        await ports.queries.get(order.id)
    with pytest.raises(TicketNotReplicated):
        await ports.queries.of_user("buyer")


async def test_an_order_whose_ticket_is_not_replicated_has_its_state_and_can_be_saved(
    ports: Ports,
) -> None:
    order = an_order(a_ticket(), user_id="buyer")
    await stored(ports, order)

    async with ports.uow() as tx:
        state = await tx.orders.state(order.id)
        assert state == order.state
        await tx.orders.save(order.state.completed())
        assert await tx.orders.state(str(ObjectId())) is None
        assert await tx.orders.state("not-an-id") is None
    async with ports.uow() as tx:
        assert await tx.orders.state(order.id) == order.state.completed()


async def test_orders_are_paged_in_id_order(ports: Ports) -> None:
    orders = [an_order(await replicated(ports, a_ticket())) for _ in range(5)]
    await stored(ports, *orders)
    ids = sorted(order.id for order in orders)
    async with ports.uow() as tx:
        first = await tx.orders.page(None, 2)
        rest = await tx.orders.page(first[-1].id, 10)
    assert [o.id for o in first] == ids[:2]
    assert [o.id for o in rest] == ids[2:]
    assert rest[0] == next(o for o in orders if o.id == ids[2]).for_snapshot


async def test_an_order_whose_ticket_is_not_replicated_is_paged_at_the_price_it_was_placed_at(
    ports: Ports,
) -> None:
    ticket = a_ticket()
    order = an_order(ticket)
    await stored(ports, order)

    async with ports.uow() as tx:
        [paged] = await tx.orders.page(None, 10)

    assert (paged, paged.price_cents) == (order.for_snapshot, ticket.price_cents)


async def test_an_order_stored_before_its_price_was_kept_is_paged_at_its_tickets_price(
    mongo: Mongo,
) -> None:
    # Only the Mongo store has orders of that age.
    uow = MongoUnitOfWork(mongo.db, SharedUnitOfWork(mongo, Outbox(mongo.db)))
    ports = Ports(uow, MongoOrderQueries(mongo.db), mongo=mongo)
    ticket = a_ticket(price_cents=1500)
    old, gone = an_order(ticket), an_order(a_ticket())
    await stored(ports, old, gone)
    await mongo.db.orders.update_many({}, {"$unset": {"price_cents": ""}})

    with pytest.raises(TicketNotReplicated):  # gone's ticket is not back yet
        async with uow() as tx:
            await tx.orders.page(None, 10)
    await mongo.db.orders.delete_one({"_id": ObjectId(gone.id)})
    await replicated(ports, ticket)
    async with uow() as tx:
        [paged] = await tx.orders.page(None, 10)

    assert paged == old.for_snapshot


async def test_a_ticket_has_one_holder_until_that_holder_releases_it(ports: Ports) -> None:
    ticket = await replicated(ports, a_ticket())
    async with ports.uow() as tx:
        assert await tx.tickets.hold(ticket.id, "order-1")
        assert not await tx.tickets.hold(ticket.id, "order-2")
        await tx.tickets.release(ticket.id, "order-2")  # not the holder: nothing changes
        assert not await tx.tickets.hold(ticket.id, "order-2")
        await tx.tickets.release(ticket.id, "order-1")
        assert await tx.tickets.hold(ticket.id, "order-2")


async def test_a_held_ticket_is_read_as_held_only_while_an_order_holds_it(ports: Ports) -> None:
    ticket = await replicated(ports, a_ticket())
    assert await ports.queries.held_ticket(ticket.id) is None
    async with ports.uow() as tx:
        assert await tx.tickets.hold(ticket.id, "order-1")

    assert await ports.queries.held_ticket(ticket.id) == ticket
    async with ports.uow() as tx:
        await tx.tickets.release(ticket.id, "order-1")
    assert await ports.queries.held_ticket(ticket.id) is None
    assert await ports.queries.held_ticket(str(ObjectId())) is None
    assert await ports.queries.held_ticket("not-an-id") is None


async def test_a_new_version_keeps_the_ticket_held(ports: Ports) -> None:
    ticket = await replicated(ports, a_ticket())
    async with ports.uow() as tx:
        assert await tx.tickets.hold(ticket.id, "order-1")
        assert await tx.tickets.apply_version(replace(ticket, version=1))
        assert not await tx.tickets.hold(ticket.id, "order-2")


async def test_an_order_is_read_with_its_ticket_as_the_replica_has_it_now(ports: Ports) -> None:
    ticket = await replicated(ports, a_ticket())
    order = an_order(ticket)
    await stored(ports, order)
    async with ports.uow() as tx:
        assert await tx.orders.get(order.id) == order
        assert await tx.tickets.apply_version(replace(ticket, version=1, title="moved"))

    moved = replace(order, ticket=replace(ticket, version=1, title="moved"))
    assert await ports.queries.get(order.id) == moved
    assert await ports.queries.get(str(ObjectId())) is None
    assert await ports.queries.get("not-an-id") is None


async def test_a_save_stores_the_next_version_only(ports: Ports) -> None:
    order = an_order(await replicated(ports, a_ticket()))
    await stored(ports, order)

    async with ports.uow() as tx:
        await tx.orders.save(order.cancelled())
    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await tx.orders.save(order.completed())  # made from version 0, which is gone

    assert await ports.queries.get(order.id) == order.cancelled()


async def test_open_orders_are_the_buyers_created_ones(ports: Ports) -> None:
    orders = [an_order(await replicated(ports, a_ticket())) for _ in range(3)]
    someone_elses = an_order(await replicated(ports, a_ticket()), user_id="someone else")
    await stored(ports, *orders, someone_elses)
    async with ports.uow() as tx:
        await tx.orders.save(orders[0].cancelled())
        await tx.orders.save(orders[1].completed())
        await tx.orders.lock_buyer("buyer")

        assert await tx.orders.count_open("buyer") == 1
        assert await tx.orders.count_open("nobody") == 0


async def test_nothing_of_an_abandoned_transaction_is_kept(ports: Ports) -> None:
    ticket = a_ticket()
    order = an_order(ticket)

    async def write_then_fail() -> None:
        async with ports.uow() as tx:
            await tx.tickets.add(ticket)
            await tx.orders.add(order)
            await tx.emit(order.created_event())
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        await write_then_fail()

    async with ports.uow() as tx:
        assert await tx.tickets.get(ticket.id) is None
    assert await ports.queries.get(order.id) is None
    assert await ports.committed_events() == []


async def test_events_are_committed_with_the_writes(ports: Ports) -> None:
    order = an_order(await replicated(ports, a_ticket()))
    async with ports.uow() as tx:
        await tx.orders.add(order)
        await tx.emit(order.created_event())

    assert await ports.committed_events() == ["order.created"]


async def test_a_users_orders_come_oldest_first(ports: Ports) -> None:
    first = an_order(await replicated(ports, a_ticket()))
    second = an_order(await replicated(ports, a_ticket()))
    await stored(ports, second, first)  # stored out of order: the ids say which is older

    assert await ports.queries.of_user("buyer") == [first, second]
    assert await ports.queries.of_user("nobody") == []


async def test_overdue_orders_are_created_ones_past_expiry_the_most_overdue_first(
    ports: Ports,
) -> None:
    soon = an_order(await replicated(ports, a_ticket()), hold_s=60)
    sooner = an_order(await replicated(ports, a_ticket()), hold_s=30)
    later = an_order(await replicated(ports, a_ticket()), hold_s=3600)
    paid = an_order(await replicated(ports, a_ticket()), hold_s=10)
    await stored(ports, soon, sooner, later, paid)
    async with ports.uow() as tx:
        await tx.orders.save(paid.completed())
    before = NOW + timedelta(minutes=10)

    assert await ports.queries.overdue_ids(before, limit=10) == [sooner.id, soon.id]
    assert await ports.queries.overdue_ids(before, limit=1) == [sooner.id]


async def test_an_order_remembered_under_a_key_is_recalled_as_it_was(ports: Ports) -> None:
    order = an_order(await replicated(ports, a_ticket()))
    key = IdempotencyKey(scope="buyer POST /api/orders", key="k1", fingerprint="f1")
    async with ports.uow() as tx:
        assert await tx.idempotency.recall(key) is None
        await tx.idempotency.remember(key, order)

    async with ports.uow() as tx:
        assert await tx.idempotency.recall(key) == order
        with pytest.raises(IdempotencyKeyReused):
            await tx.idempotency.recall(replace(key, fingerprint="f2"))


async def test_a_key_remembered_twice_is_a_conflict(ports: Ports) -> None:
    order = an_order(await replicated(ports, a_ticket()))
    key = IdempotencyKey(scope="buyer POST /api/orders", key="k1", fingerprint="f1")
    async with ports.uow() as tx:
        await tx.idempotency.remember(key, order)

    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await tx.idempotency.remember(key, order)
