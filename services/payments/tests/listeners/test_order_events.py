"""payments keeps a replica of orders from their events, through real RabbitMQ."""

from datetime import timedelta

from bson import ObjectId

from services.payments.config import SERVICE
from services.payments.domain import Order
from services.payments.service import Deps
from services.payments.tests.conftest import (
    Client,
    cancelled_order,
    consumed,
    open_order,
    order_cancelled,
    order_created,
    publish,
    replica,
    settled,
)
from shared.events import OrderStatus
from shared.messaging import AmqpSettings, Publisher
from shared.testing.events import parked_messages


async def test_order_created_replicates_the_order_with_its_price(
    client: Client, deps: Deps, publisher: Publisher
) -> None:
    user_id = str(ObjectId())
    event = order_created(user_id, price_cents=1050)

    await publish(publisher, event)

    order = await replica(deps, event.id)
    assert order == Order(
        id=event.id,
        user_id=user_id,
        price_cents=1050,
        status=OrderStatus.CREATED,
        version=0,
        expires_at=order.expires_at,
    )
    # BSON keeps milliseconds.
    assert order.expires_at is not None
    assert abs(order.expires_at - event.expires_at) < timedelta(milliseconds=1)


async def test_order_cancelled_at_the_next_version_cancels_the_replica(
    client: Client, deps: Deps, publisher: Publisher
) -> None:
    created = await open_order(deps, publisher)

    await publish(publisher, order_cancelled(created, version=1))

    order = await replica(deps, created.id, status="cancelled")
    assert order.version == 1


async def test_a_cancellation_that_overtakes_its_order_is_retried_until_it_applies(
    client: Client, deps: Deps, publisher: Publisher, amqp: AmqpSettings
) -> None:
    created = order_created()
    retried = consumed("order.cancelled", "retried")

    await publish(publisher, order_cancelled(created, version=1))
    await settled("order.cancelled", "retried", retried + 1)  # it found no order yet
    await publish(publisher, created)

    order = await replica(deps, created.id, status="cancelled")
    assert order.version == 1
    assert await parked_messages(amqp, SERVICE) == []


async def test_a_version_that_skips_one_waits_for_the_missing_one(
    client: Client, deps: Deps, publisher: Publisher
) -> None:
    created = await open_order(deps, publisher)
    retried = consumed("order.cancelled", "retried")

    await publish(publisher, order_cancelled(created, version=2))
    await settled("order.cancelled", "retried", retried + 1)
    waiting = await replica(deps, created.id)
    await publish(publisher, order_cancelled(created, version=1))

    assert (waiting.status, waiting.version) == ("created", 0)
    applied = await replica(deps, created.id, version=2)
    assert applied.status == "cancelled"


async def test_duplicate_order_events_change_nothing_and_are_acknowledged(
    client: Client, deps: Deps, publisher: Publisher, amqp: AmqpSettings
) -> None:
    created = await cancelled_order(deps, publisher)
    acked = consumed("order.created", "acked"), consumed("order.cancelled", "acked")

    # Redeliveries, a re-publish, and a stale create arriving after the cancel.
    await publisher.publish_event(created, message_id="dup-created")
    await publisher.publish_event(created, message_id="dup-created")
    await publish(publisher, order_cancelled(created, version=1), created)
    # Each of them handled (acknowledged), not merely received.
    await settled("order.created", "acked", acked[0] + 3)
    await settled("order.cancelled", "acked", acked[1] + 1)

    order = await replica(deps, created.id)
    assert (order.status, order.version) == ("cancelled", 1)
    assert order.price_cents == created.ticket.price_cents
    assert await parked_messages(amqp, SERVICE) == []
