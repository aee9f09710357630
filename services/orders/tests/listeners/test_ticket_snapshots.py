"""orders' ticket replica takes ticket.snapshot through real RabbitMQ only when it is newer,
and counts each for the rebuild that asked."""

from __future__ import annotations

from services.orders.domain import Ticket
from services.orders.service import Deps
from services.orders.tests.conftest import Client, Consumed, replica, ticket_created
from shared.events import TicketCreated, TicketSnapshot
from shared.messaging import AmqpSettings
from shared.messaging.rebuild import MongoRebuilds
from shared.testing.events import event_publisher
from shared.testing.poll import eventually

REQUEST = "0123456789abcdef0123456789abcdef"


def snapshot_of(created: TicketCreated, version: int, price_cents: int) -> TicketSnapshot:
    return TicketSnapshot(
        id=created.id,
        version=version,
        title=f"at {version}",
        price_cents=price_cents,
        user_id=created.user_id,
        order_id=None,
        request_id=REQUEST,
    )


async def test_a_snapshot_not_newer_than_the_replica_is_ignored_and_a_newer_one_taken(
    client: Client, deps: Deps, amqp: AmqpSettings, consumed: Consumed
) -> None:
    created = ticket_created(price_cents=500)
    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(created)
        await eventually(lambda: replica(deps, created.id), what="the replica")
        jump = await publisher.publish_event(snapshot_of(created, 4, 4000))
        await consumed.handled(jump)
        same = await publisher.publish_event(snapshot_of(created, 4, 100))
        older = await publisher.publish_event(snapshot_of(created, 2, 200))
        await consumed.handled(same)
        await consumed.handled(older)

    assert await replica(deps, created.id) == Ticket(
        id=created.id, title="at 4", price_cents=4000, version=4, seller_id=created.user_id
    )
    # Each snapshot answered the request: one receipt for the ticket, whatever came of it.
    assert isinstance(deps.rebuilds, MongoRebuilds)
    assert (await deps.rebuilds.progress(REQUEST)).received == 1
