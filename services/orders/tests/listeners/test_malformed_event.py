"""A malformed event on real RabbitMQ is parked, and the orders service goes on to the next."""

from __future__ import annotations

import json

from services.orders.config import SERVICE
from services.orders.service import Deps
from services.orders.tests.conftest import Client, replica, ticket_created
from shared.messaging import AmqpSettings
from shared.testing.events import event_publisher, parked_messages, payload
from shared.testing.poll import eventually


async def test_a_malformed_ticket_created_is_parked_and_the_next_good_one_is_applied(
    client: Client, deps: Deps, amqp: AmqpSettings
) -> None:
    good = ticket_created(price_cents=2000)
    # Valid JSON and every field present, but a price below 0.50 and an id that is no
    # ObjectId: before the strict contract the replica took both.
    bad = payload(ticket_created()) | {"id": "t1", "price": 0.01}

    async with event_publisher(amqp) as publisher:
        await publisher.publish("ticket.created", json.dumps(bad).encode(), message_id="bad-1")
        await publisher.publish_event(good)

    ticket = await eventually(lambda: replica(deps, good.id), what="the good event applied")
    assert ticket.price_cents == 2000
    [message] = await eventually(
        lambda: parked_messages(amqp, SERVICE), what="the malformed event parked"
    )
    assert (message.message_id, message.type, message.reason) == (
        "bad-1",
        "ticket.created",
        "malformed",
    )
    assert "ObjectId" in message.error
    assert "price" in message.error
