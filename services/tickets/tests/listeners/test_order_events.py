"""tickets hears orders reserve and release its tickets, through real RabbitMQ."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from services.tickets.service import Deps
from services.tickets.tests.conftest import Client, create_ticket, order_created
from shared.events import OrderCancelled, TicketId, TicketUpdated
from shared.messaging import AmqpSettings
from shared.mongo import Mongo
from shared.testing.events import EventTap, event_publisher, payload
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually


async def test_order_created_sets_the_order_id_and_publishes_ticket_updated(
    client: Client, signin: Signin, amqp: AmqpSettings, events: EventTap, deps: Deps
) -> None:
    ticket = await create_ticket(client, signin(), title="concert", price=99)
    event = order_created(ticket["id"])

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(event)

    updated = await events.wait_for(TicketUpdated, lambda e: e.id == ticket["id"])
    assert payload(updated) == {
        "id": ticket["id"],
        "version": 1,
        "title": "concert",
        "price": 99,
        "userId": ticket["userId"],
        "orderId": event.id,
    }
    stored = await deps.tickets.get(ticket["id"])
    assert stored is not None
    assert (stored.order_id, stored.version) == (event.id, 1)


async def test_a_redelivered_order_created_changes_the_ticket_once(
    client: Client, signin: Signin, amqp: AmqpSettings, events: EventTap, deps: Deps
) -> None:
    ticket = await create_ticket(client, signin())
    event = order_created(ticket["id"])

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(event, message_id="order-created-1")
        await publisher.publish_event(event, message_id="order-created-1")
        await publisher.publish_event(event, message_id="order-created-2")  # a re-publish
        marker = await create_ticket(client, signin(), title="marker")
        await publisher.publish_event(order_created(marker["id"]))

    await events.wait_for(TicketUpdated, lambda e: e.id == marker["id"])
    stored = await deps.tickets.get(ticket["id"])
    assert stored is not None
    assert stored.version == 1
    assert len([e for e in events.of(TicketUpdated) if e.id == ticket["id"]]) == 1


async def test_order_cancelled_unreserves_the_ticket_and_publishes(
    client: Client, signin: Signin, amqp: AmqpSettings, events: EventTap, deps: Deps
) -> None:
    ticket = await create_ticket(client, signin())
    created = order_created(ticket["id"])

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(created)
        await events.wait_for(TicketUpdated, lambda e: e.order_id == created.id)
        await publisher.publish_event(
            OrderCancelled(id=created.id, version=1, ticket=TicketId(id=ticket["id"]))
        )

    released = await events.wait_for(TicketUpdated, lambda e: e.version == 2)
    assert released.order_id is None
    assert "orderId" not in payload(released)
    listing = await (await client.get("/api/tickets")).json()
    assert [t["id"] for t in listing] == [ticket["id"]]


async def test_a_stale_cancellation_never_unlocks_a_ticket_another_order_holds(
    client: Client, signin: Signin, amqp: AmqpSettings, events: EventTap, deps: Deps
) -> None:
    ticket = await create_ticket(client, signin())
    first, second = order_created(ticket["id"]), order_created(ticket["id"])

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(first)
        await events.wait_for(TicketUpdated, lambda e: e.order_id == first.id)
        await publisher.publish_event(
            OrderCancelled(id=first.id, version=1, ticket=TicketId(id=ticket["id"]))
        )
        await events.wait_for(TicketUpdated, lambda e: e.version == 2)
        await publisher.publish_event(second)
        await events.wait_for(TicketUpdated, lambda e: e.order_id == second.id)
        # The first order's cancellation arrives again (say, a late expiry).
        await publisher.publish_event(
            OrderCancelled(id=first.id, version=1, ticket=TicketId(id=ticket["id"]))
        )
        marker = await create_ticket(client, signin(), title="marker")
        await publisher.publish_event(order_created(marker["id"]))

    await events.wait_for(TicketUpdated, lambda e: e.id == marker["id"])
    stored = await deps.tickets.get(ticket["id"])
    assert stored is not None
    assert stored.order_id == second.id
    assert stored.version == 3


async def test_an_order_for_a_held_ticket_waits_for_the_previous_release(
    client: Client, signin: Signin, amqp: AmqpSettings, events: EventTap, deps: Deps
) -> None:
    ticket = await create_ticket(client, signin())
    first, second = order_created(ticket["id"]), order_created(ticket["id"])

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(first)
        await events.wait_for(TicketUpdated, lambda e: e.order_id == first.id)
        # Out of order: the second order's creation overtakes the first's cancellation.
        await publisher.publish_event(second)
        await publisher.publish_event(
            OrderCancelled(id=first.id, version=1, ticket=TicketId(id=ticket["id"]))
        )

    held = await events.wait_for(TicketUpdated, lambda e: e.order_id == second.id)
    assert held.version == 3


async def test_an_order_created_handled_after_its_cancellation_leaves_the_ticket_free(
    client: Client, signin: Signin, amqp: AmqpSettings, deps: Deps, mongo: Mongo
) -> None:
    ticket = await create_ticket(client, signin())
    created = order_created(ticket["id"])

    def handled(message_id: str) -> Callable[[], Awaitable[bool]]:
        async def done() -> bool:  # the inbox holds a message once its handling committed
            return await mongo.db.inbox.find_one({"message_id": message_id}) is not None

        return done

    # Out of order, as two deliveries handled at once or a retried one can be.
    async with event_publisher(amqp) as publisher:
        cancelled = OrderCancelled(id=created.id, version=1, ticket=TicketId(id=ticket["id"]))
        await publisher.publish_event(cancelled, message_id="early-order-cancelled")
        await eventually(handled("early-order-cancelled"), what="the cancellation handled")
        await publisher.publish_event(created, message_id="late-order-created")
    await eventually(handled("late-order-created"), what="the late order.created handled")

    stored = await deps.tickets.get(ticket["id"])
    assert stored is not None
    assert (stored.order_id, stored.version) == (None, 0)
    listing = await (await client.get("/api/tickets")).json()
    assert ticket["id"] in [t["id"] for t in listing]


async def test_an_order_created_past_its_expiry_leaves_the_ticket_free(
    client: Client, signin: Signin, amqp: AmqpSettings, events: EventTap, deps: Deps
) -> None:
    ticket = await create_ticket(client, signin())
    replayed = order_created(ticket["id"], expires_at=datetime.now(UTC) - timedelta(days=30))

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(replayed)
        # Handled in order: once the marker's ticket is reserved, the old one was seen.
        marker = await create_ticket(client, signin(), title="marker")
        await publisher.publish_event(order_created(marker["id"]))

    await events.wait_for(TicketUpdated, lambda e: e.id == marker["id"])
    stored = await deps.tickets.get(ticket["id"])
    assert stored is not None
    assert (stored.order_id, stored.version) == (None, 0)
    assert not [e for e in events.of(TicketUpdated) if e.id == ticket["id"]]
