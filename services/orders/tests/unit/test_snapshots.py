"""orders and snapshots, on the twins: its ticket replica takes a ticket's snapshot only when
newer and keeps who holds a ticket its own; it answers a request for its orders' snapshots;
while its replica is rebuilt, a ticket not back yet is a 503, never a 404 or a 500."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.orders import service
from services.orders.domain import Order, TicketNotReplicated
from services.orders.service import PlaceOrder
from services.orders.tests.unit.twins import Twins, ticket_created, twins
from shared.errors import NotFound
from shared.events import (
    OrderSnapshot,
    OrderStatus,
    SnapshotCompleted,
    SnapshotRequested,
    TicketCreated,
    TicketSnapshot,
)

REQUEST = "0123456789abcdef0123456789abcdef"


@dataclass
class RebuildRecorder:
    """A ``RebuildLog`` that says whether a rebuild runs and records the receipts."""

    rebuilding: bool = False
    receipts: list[tuple[str, str]] = field(default_factory=list)

    async def running(self) -> bool:
        return self.rebuilding

    async def received(self, request_id: str, entity_id: str) -> None:
        self.receipts.append((request_id, entity_id))

    async def completed(self, request_id: str, count: int) -> None:
        return None


@pytest.fixture
def rebuilds() -> RebuildRecorder:
    return RebuildRecorder()


@pytest.fixture
def t(rebuilds: RebuildRecorder) -> Twins:
    return twins().with_deps(rebuilds=rebuilds)


def snapshot_of(
    created: TicketCreated, version: int, price_cents: int, title: str = "concert"
) -> TicketSnapshot:
    return TicketSnapshot(
        id=created.id,
        version=version,
        title=title,
        price_cents=price_cents,
        user_id=created.user_id,
        order_id=None,
        request_id=REQUEST,
    )


async def replica(t: Twins, ticket_id: str) -> tuple[int, int, str | None] | None:
    """(version, price, held by) of the replica's ticket, or None."""
    async with t.uow() as tx:
        ticket = await tx.tickets.get(ticket_id)
    if ticket is None:
        return None
    return ticket.version, ticket.price_cents, t.uow.state.held_by[ticket_id]


def drop_replica(t: Twins) -> None:
    t.uow.state.tickets.clear()
    t.uow.state.held_by.clear()


async def an_order_whose_ticket_is_not_back(t: Twins) -> tuple[TicketCreated, Order]:
    """A buyer's order, then a rebuild dropped the replica: its ticket's snapshot is to come."""
    created = ticket_created()
    await service.replicate_ticket(created, deps=t.deps)
    order = await service.place_order(PlaceOrder(created.id), "buyer", deps=t.deps)
    drop_replica(t)
    return created, order


async def test_a_snapshot_older_than_or_equal_to_the_replica_is_ignored(
    t: Twins, rebuilds: RebuildRecorder
) -> None:
    created = ticket_created(price_cents=500)
    await service.replicate_ticket(created, deps=t.deps)
    await service.apply_ticket_snapshot(snapshot_of(created, 3, 900), deps=t.deps)

    await service.apply_ticket_snapshot(snapshot_of(created, 3, 1), deps=t.deps)
    await service.apply_ticket_snapshot(snapshot_of(created, 2, 2), deps=t.deps)

    assert await replica(t, created.id) == (3, 900, None)
    # Each is counted for the rebuild, taken or not: the replica has that version or later.
    assert rebuilds.receipts == [(REQUEST, created.id)] * 3


async def test_a_newer_snapshot_jumps_over_versions_that_never_arrived(t: Twins) -> None:
    created = ticket_created(price_cents=500)
    await service.replicate_ticket(created, deps=t.deps)

    await service.apply_ticket_snapshot(snapshot_of(created, 7, 1200, "opera"), deps=t.deps)

    async with t.uow() as tx:
        ticket = await tx.tickets.get(created.id)
    assert ticket is not None
    assert (ticket.version, ticket.price_cents, ticket.title) == (7, 1200, "opera")


async def test_a_ticket_put_back_by_a_snapshot_is_held_as_our_orders_say(t: Twins) -> None:
    held, freed = ticket_created(), ticket_created()
    for created in (held, freed):
        await service.replicate_ticket(created, deps=t.deps)
    holder = await service.place_order(PlaceOrder(held.id), "buyer", deps=t.deps)
    cancelled = await service.place_order(PlaceOrder(freed.id), "buyer", deps=t.deps)
    await service.cancel_order(cancelled.id, "buyer", deps=t.deps)
    drop_replica(t)

    # What the tickets service says of its holder is not copied: the orders decide.
    await service.apply_ticket_snapshot(snapshot_of(held, 1, 2000), deps=t.deps)
    await service.apply_ticket_snapshot(snapshot_of(freed, 2, 2000), deps=t.deps)

    assert await replica(t, held.id) == (1, 2000, holder.id)
    assert await replica(t, freed.id) == (2, 2000, None)


async def test_a_later_snapshot_leaves_the_holder_as_it_is(t: Twins) -> None:
    created = ticket_created()
    await service.replicate_ticket(created, deps=t.deps)
    order = await service.place_order(PlaceOrder(created.id), "buyer", deps=t.deps)

    await service.apply_ticket_snapshot(snapshot_of(created, 4, 3000), deps=t.deps)

    assert await replica(t, created.id) == (4, 3000, order.id)


async def test_while_rebuilding_an_unknown_ticket_is_unavailable_not_missing(
    t: Twins, rebuilds: RebuildRecorder
) -> None:
    created = ticket_created()

    with pytest.raises(NotFound):
        await service.place_order(PlaceOrder(created.id), "buyer", deps=t.deps)
    rebuilds.rebuilding = True
    with pytest.raises(TicketNotReplicated) as refused:
        await service.place_order(PlaceOrder(created.id), "buyer", deps=t.deps)
    assert refused.value.status == 503


async def test_an_order_whose_ticket_is_not_back_is_unavailable_to_its_pages_and_sweep(
    t: Twins,
) -> None:
    _, order = await an_order_whose_ticket_is_not_back(t)

    with pytest.raises(TicketNotReplicated):
        await service.show_order(order.id, "buyer", deps=t.deps)
    with pytest.raises(TicketNotReplicated):
        await service.list_orders("buyer", deps=t.deps)
    assert await service.cancel_overdue(deps=t.deps, grace_s=-(10**6)) == 0


async def test_a_payment_during_the_rebuild_completes_the_order_at_once(t: Twins) -> None:
    created, order = await an_order_whose_ticket_is_not_back(t)

    # No RetryLater: parked after its retries, the payment would leave the order to the
    # sweep, and the buyer who paid would lose the ticket.
    await service.complete_order(order.id, deps=t.deps)
    await service.expire_order(order.id, deps=t.deps)  # too late: it is paid

    await service.apply_ticket_snapshot(snapshot_of(created, 1, 700), deps=t.deps)
    paid = await service.show_order(order.id, "buyer", deps=t.deps)
    assert (paid.status, paid.version) == (OrderStatus.COMPLETE, 1)
    assert await replica(t, created.id) == (1, 700, order.id)
    assert t.routing_keys() == ["order.created"]


async def test_an_expiry_during_the_rebuild_cancels_and_the_ticket_comes_back_free(
    t: Twins,
) -> None:
    created, order = await an_order_whose_ticket_is_not_back(t)

    await service.expire_order(order.id, deps=t.deps)

    await service.apply_ticket_snapshot(snapshot_of(created, 1, 700), deps=t.deps)
    cancelled = await service.show_order(order.id, "buyer", deps=t.deps)
    assert (cancelled.status, cancelled.version) == (OrderStatus.CANCELLED, 1)
    assert await replica(t, created.id) == (1, 700, None)
    assert t.routing_keys() == ["order.created", "order.cancelled"]


async def test_a_request_for_order_snapshots_publishes_each_in_batches_and_the_count(
    t: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SNAPSHOT_BATCH", 2)
    placed = []
    for _ in range(5):
        created = ticket_created()
        await service.replicate_ticket(created, deps=t.deps)
        placed.append(await service.place_order(PlaceOrder(created.id), "buyer", deps=t.deps))
    await service.cancel_order(placed[0].id, "buyer", deps=t.deps)
    before = len(t.published)

    count = await service.publish_order_snapshots(
        SnapshotRequested(REQUEST, "order", "payments"), deps=t.deps
    )

    published = t.published[before:]
    snapshots = [e for e in published if isinstance(e, OrderSnapshot)]
    assert count == 5
    assert [s.id for s in snapshots] == sorted(o.id for o in placed)
    assert {(s.id, s.version, s.status) for s in snapshots} == {
        (placed[0].id, 1, OrderStatus.CANCELLED),
        *((o.id, 0, OrderStatus.CREATED) for o in placed[1:]),
    }
    assert published[-1] == SnapshotCompleted(REQUEST, "order", 5)


async def test_order_snapshots_are_published_while_our_ticket_replica_is_rebuilt(
    t: Twins,
) -> None:
    _, order = await an_order_whose_ticket_is_not_back(t)
    before = len(t.published)

    # Payments rebuilding meanwhile gets its snapshots now, not after our rebuild (a
    # request retried for that long is parked, and payments' rebuild times out).
    count = await service.publish_order_snapshots(
        SnapshotRequested(REQUEST, "order", "payments"), deps=t.deps
    )

    [snapshot, completed] = t.published[before:]
    assert count == 1
    assert isinstance(snapshot, OrderSnapshot)
    assert (snapshot.id, snapshot.ticket.id, snapshot.ticket.price_cents) == (
        order.id,
        order.ticket.id,
        order.ticket.price_cents,
    )
    assert completed == SnapshotCompleted(REQUEST, "order", 1)


async def test_a_request_for_another_entitys_snapshots_publishes_nothing(t: Twins) -> None:
    before = len(t.published)

    await service.publish_order_snapshots(
        SnapshotRequested(REQUEST, "ticket", "orders"), deps=t.deps
    )

    assert t.published[before:] == []
