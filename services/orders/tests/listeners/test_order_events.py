"""Expiry and payment reach orders through real RabbitMQ."""

from bson import ObjectId

from services.orders.service import Deps
from services.orders.tests.conftest import (
    Client,
    Consumed,
    marker_order_announced,
    place_order,
    replicate_ticket,
    stored_order,
)
from shared.events import ExpirationComplete, OrderCancelled, OrderStatus, PaymentCreated
from shared.messaging import AmqpSettings
from shared.mongo import Mongo
from shared.testing.events import EventTap, event_publisher, payload
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually


def payment_for(order_id: str) -> PaymentCreated:
    return PaymentCreated(id=str(ObjectId()), order_id=order_id, stripe_id="pi_test")


async def test_expiration_cancels_the_order_and_emits_order_cancelled(
    client: Client, signin: Signin, deps: Deps, amqp: AmqpSettings, events: EventTap
) -> None:
    ticket_id = await replicate_ticket(deps)
    order = await place_order(client, signin(), ticket_id)

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(ExpirationComplete(order_id=order["id"]))

    event = await events.wait_for(OrderCancelled, lambda e: e.id == order["id"])
    assert payload(event) == {"id": order["id"], "version": 1, "ticket": {"id": ticket_id}}
    assert (await stored_order(deps, order["id"])).status == OrderStatus.CANCELLED
    # The ticket is free again for the next buyer.
    assert (await place_order(client, signin(), ticket_id))["status"] == OrderStatus.CREATED


async def test_a_redelivered_expiration_cancels_once(
    client: Client,
    signin: Signin,
    deps: Deps,
    amqp: AmqpSettings,
    events: EventTap,
    consumed: Consumed,
) -> None:
    order = await place_order(client, signin(), await replicate_ticket(deps))
    expired = ExpirationComplete(order_id=order["id"])

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(expired, message_id="expiry-1")
        await publisher.publish_event(expired, message_id="expiry-1")
        await publisher.publish_event(expired, message_id="expiry-2")

    await consumed.handled("expiry-1", times=2)
    await consumed.handled("expiry-2")
    await marker_order_announced(client, signin, deps, events)
    assert [e.id for e in events.of(OrderCancelled)] == [order["id"]]
    assert (await stored_order(deps, order["id"])).version == 1


async def test_payment_completes_the_order(
    client: Client, signin: Signin, deps: Deps, amqp: AmqpSettings, consumed: Consumed
) -> None:
    order = await place_order(client, signin(), await replicate_ticket(deps))

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(payment_for(order["id"]), message_id="payment-1")
        await publisher.publish_event(payment_for(order["id"]), message_id="payment-1")  # a replay

    await consumed.handled("payment-1", times=2)
    stored = await stored_order(deps, order["id"])
    assert (stored.status, stored.version) == (OrderStatus.COMPLETE, 1)


async def test_a_payment_while_the_ticket_is_not_back_from_a_rebuild_completes_at_once(
    client: Client,
    signin: Signin,
    deps: Deps,
    amqp: AmqpSettings,
    mongo: Mongo,
    consumed: Consumed,
) -> None:
    ticket_id = await replicate_ticket(deps)
    order = await place_order(client, signin(), ticket_id)
    # A rebuild dropped the replica; the ticket's snapshot has not landed yet.
    await mongo.db.tickets.delete_one({"_id": ObjectId(ticket_id)})

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(payment_for(order["id"]), message_id="payment-rebuild")

    await consumed.handled("payment-rebuild")
    assert "scheduled for retry" not in consumed.outcomes("payment-rebuild")
    async with deps.uow() as tx:
        state = await tx.orders.state(order["id"])
    assert state is not None
    assert (state.status, state.version) == (OrderStatus.COMPLETE, 1)


async def test_expiry_of_a_paid_order_does_nothing(
    client: Client, signin: Signin, deps: Deps, amqp: AmqpSettings, events: EventTap
) -> None:
    order = await place_order(client, signin(), await replicate_ticket(deps))

    async def completed() -> bool:
        return (await stored_order(deps, order["id"])).status == OrderStatus.COMPLETE

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(payment_for(order["id"]))
        await eventually(completed, what="the order complete")
        await publisher.publish_event(ExpirationComplete(order_id=order["id"]))
        marker = await place_order(client, signin(), await replicate_ticket(deps))
        await publisher.publish_event(ExpirationComplete(order_id=marker["id"]))

    await events.wait_for(OrderCancelled, lambda e: e.id == marker["id"])
    assert (await stored_order(deps, order["id"])).status == OrderStatus.COMPLETE
    assert order["id"] not in {e.id for e in events.of(OrderCancelled)}


async def test_a_payment_for_a_cancelled_order_leaves_it_cancelled(
    client: Client, signin: Signin, deps: Deps, amqp: AmqpSettings
) -> None:
    buyer = signin()
    order = await place_order(client, buyer, await replicate_ticket(deps))
    await client.delete(f"/api/orders/{order['id']}", cookies=buyer)
    marker = await place_order(client, signin(), await replicate_ticket(deps))

    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(payment_for(order["id"]))
        await publisher.publish_event(payment_for(marker["id"]))

    async def marker_completed() -> bool:
        return (await stored_order(deps, marker["id"])).status == OrderStatus.COMPLETE

    await eventually(marker_completed, what="the marker complete")
    assert (await stored_order(deps, order["id"])).status == OrderStatus.CANCELLED
