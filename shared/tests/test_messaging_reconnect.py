"""Robust connections: a consumer the broker disconnects comes back, and readiness says so."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import ServiceUnavailable
from shared.events import Event, TicketCreated
from shared.messaging import AmqpSettings, Delivery, Messaging
from shared.testing.infra import close_connections, has_rabbitmqctl
from shared.testing.poll import eventually
from shared.tests.conftest import Consuming

pytestmark = pytest.mark.skipif(
    not has_rabbitmqctl(), reason="needs rabbitmqctl to close connections"
)


async def _watch_readiness(
    messaging: Messaging, seen: list[bool], refusals: list[str], stop: asyncio.Event
) -> None:
    # Sampled in the background: the broker-side close and the reconnect both
    # happen while rabbitmqctl is still running.
    while not stop.is_set():
        ready = messaging.ready
        if not seen or seen[-1] != ready:
            seen.append(ready)
        if not ready:
            try:
                await messaging.check_ready()
            except ServiceUnavailable as exc:
                refusals.append(exc.message)
        await asyncio.sleep(0.005)


async def test_a_consumer_closed_by_the_broker_goes_unready_then_resumes_consuming(
    amqp_settings: AmqpSettings, consuming: Consuming
) -> None:
    received: list[str] = []

    async def handler(_event: Event, delivery: Delivery) -> None:
        received.append(delivery.message_id)

    name = f"reconnect-{amqp_settings.namespace}"
    ticket = TicketCreated(
        id="60029252cba1360018999688",
        version=0,
        title="x",
        price_cents=100,
        user_id="5fd843a29fc5e30023bd790b",
    )
    async with consuming(handler, connection_name=name) as messaging:
        seen: list[bool] = []
        refusals: list[str] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch_readiness(messaging, seen, refusals, stop))
        await eventually(lambda: seen == [True])

        closed = await asyncio.to_thread(close_connections, name)
        await eventually(lambda: False in seen, what="readiness to drop")
        await eventually(lambda: messaging.ready, what="the consumer to come back")
        await messaging.check_ready()
        message_id = await messaging.publisher.publish_event(ticket)
        await eventually(
            lambda: message_id in received, what="a message published after the reconnect"
        )
        stop.set()
        await watcher

    assert closed == 1
    assert seen[:3] == [True, False, True]
    assert refusals  # /readyz would have answered 503 meanwhile
