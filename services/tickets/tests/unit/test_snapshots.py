"""tickets answers a replica's rebuild: every ticket as its snapshot, in batches, then the count."""

from __future__ import annotations

import pytest
from bson import ObjectId

from services.tickets import service
from services.tickets.adapters.memory import InMemoryTicketCatalog, InMemoryUnitOfWork
from services.tickets.service import Deps, EditTicket, SellTicket
from services.tickets.tests.conftest import order_created
from shared.events import SnapshotCompleted, SnapshotRequested, TicketSnapshot

REQUEST = "0123456789abcdef0123456789abcdef"
SELLER = str(ObjectId())


@pytest.fixture
def memory() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork()


@pytest.fixture
def deps(memory: InMemoryUnitOfWork) -> Deps:
    return Deps(uow=memory, tickets=InMemoryTicketCatalog(memory))


async def test_every_ticket_is_published_at_its_version_in_batches_then_the_count(
    deps: Deps, memory: InMemoryUnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "SNAPSHOT_BATCH", 2)
    sold = [
        await service.create_ticket(SellTicket(f"t{n}", 1000), SELLER, deps=deps) for n in range(5)
    ]
    edited = await service.update_ticket(sold[1].id, EditTicket("moved", 1500), SELLER, deps=deps)
    order = order_created(sold[2].id)
    await service.apply_order_created(order, "m1", deps=deps)
    before = len(memory.published)

    count = await service.publish_ticket_snapshots(
        SnapshotRequested(REQUEST, "ticket", "orders"), deps=deps
    )

    published = memory.published[before:]
    snapshots = {e.id: e for e in published if isinstance(e, TicketSnapshot)}
    assert count == 5
    assert sorted(snapshots) == sorted(ticket.id for ticket in sold)
    assert snapshots[edited.id] == edited.snapshot_event(REQUEST)
    assert (snapshots[sold[2].id].version, snapshots[sold[2].id].order_id) == (1, order.id)
    assert published[-1] == SnapshotCompleted(REQUEST, "ticket", 5)


async def test_an_empty_store_still_says_it_is_done(deps: Deps, memory: InMemoryUnitOfWork) -> None:
    count = await service.publish_ticket_snapshots(
        SnapshotRequested(REQUEST, "ticket", "orders"), deps=deps
    )

    assert count == 0
    assert memory.published == [SnapshotCompleted(REQUEST, "ticket", 0)]


async def test_a_request_for_another_entity_publishes_nothing(
    deps: Deps, memory: InMemoryUnitOfWork
) -> None:
    await service.publish_ticket_snapshots(
        SnapshotRequested(REQUEST, "order", "payments"), deps=deps
    )

    assert memory.published == []
