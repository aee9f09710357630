"""The ticket replica follows the tickets service through real RabbitMQ, version by version."""

from dataclasses import replace

from services.orders.domain import Ticket
from services.orders.service import Deps
from services.orders.tests.conftest import Client, Consumed, replica, ticket_created
from shared.events import TicketCreated, TicketUpdated
from shared.messaging import AmqpSettings
from shared.testing.events import event_publisher
from shared.testing.poll import eventually


def updated(created: TicketCreated, version: int, **changes: object) -> TicketUpdated:
    fields: dict[str, object] = {
        "id": created.id,
        "version": version,
        "title": created.title,
        "price_cents": created.price_cents,
        "user_id": created.user_id,
    }
    return TicketUpdated(**(fields | changes))  # type: ignore[arg-type]


async def replica_at(deps: Deps, ticket_id: str, version: int) -> Ticket | None:
    ticket = await replica(deps, ticket_id)
    return ticket if ticket is not None and ticket.version == version else None


async def test_creates_and_saves_a_ticket(client: Client, deps: Deps, amqp: AmqpSettings) -> None:
    event = ticket_created("concert", 1050)

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(event)

    ticket = await eventually(lambda: replica(deps, event.id), what="the replica")
    assert ticket == Ticket(
        id=event.id, title="concert", price_cents=1050, version=0, seller_id=event.user_id
    )


async def test_finds_updates_and_saves_a_ticket(
    client: Client, deps: Deps, amqp: AmqpSettings
) -> None:
    created = ticket_created()
    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(created)
        await publisher.publish_event(updated(created, 1, title="new concert", price_cents=99900))

    ticket = await eventually(lambda: replica_at(deps, created.id, 1), what="version 1")
    assert (ticket.title, ticket.price_cents) == ("new concert", 99900)


async def test_a_version_that_arrives_early_waits_for_the_one_before_it(
    client: Client, deps: Deps, amqp: AmqpSettings, consumed: Consumed
) -> None:
    created = ticket_created(price_cents=500)
    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(created)
        await eventually(lambda: replica(deps, created.id))
        v2 = await publisher.publish_event(updated(created, 2, price_cents=1500))
        v3 = await publisher.publish_event(updated(created, 3, price_cents=2500))
        # v2 and v3 are early: through several retry rounds the replica stays at v0.
        await consumed.retried(v2, times=2)
        await consumed.retried(v3, times=2)
        assert await replica_at(deps, created.id, 0) is not None
        await publisher.publish_event(updated(created, 1, price_cents=1000))

    ticket = await eventually(lambda: replica_at(deps, created.id, 3), what="version 3")
    assert ticket.price_cents == 2500


async def test_an_update_before_the_create_is_applied_after_it(
    client: Client, deps: Deps, amqp: AmqpSettings
) -> None:
    created = ticket_created(price_cents=500)
    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(updated(created, 1, price_cents=1000))
        await publisher.publish_event(created)

    ticket = await eventually(lambda: replica_at(deps, created.id, 1), what="version 1")
    assert ticket.price_cents == 1000


async def test_duplicates_and_stale_versions_change_nothing(
    client: Client, deps: Deps, amqp: AmqpSettings, consumed: Consumed
) -> None:
    created = ticket_created(price_cents=500)
    v1 = updated(created, 1, price_cents=1000)
    v2 = updated(created, 2, price_cents=1500)
    async with event_publisher(amqp) as publisher:
        for event in (created, v1, v2):
            await publisher.publish_event(event)
        await eventually(lambda: replica_at(deps, created.id, 2))
        # Redeliveries and a re-published old version: each handled as seen already.
        repeats = [
            await publisher.publish_event(replace(created, title="stale create")),
            await publisher.publish_event(v1),
            await publisher.publish_event(replace(v1, price_cents=100)),
        ]

    for message_id in repeats:
        await consumed.handled(message_id)
    assert await replica(deps, created.id) == Ticket(
        id=created.id, title=created.title, price_cents=1500, version=2, seller_id=created.user_id
    )


async def test_a_skipped_version_is_never_applied(
    client: Client, deps: Deps, amqp: AmqpSettings, consumed: Consumed
) -> None:
    created = ticket_created(price_cents=500)
    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(created)
        await eventually(lambda: replica(deps, created.id))
        skipped = await publisher.publish_event(updated(created, 10, price_cents=99))

    await consumed.retried(skipped, times=3)  # several rounds, each refused: still early
    ticket = await replica(deps, created.id)
    assert ticket is not None
    assert (ticket.version, ticket.price_cents) == (0, 500)
