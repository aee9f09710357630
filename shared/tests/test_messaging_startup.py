"""A broker lost while a service declares its topology: the next attempt declares it whole."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web
from aiohttp.test_utils import TestClient

from shared.events import Event, TicketCreated
from shared.messaging import AmqpSettings, Delivery, Messaging, Topology
from shared.testing.fixtures import new_namespace
from shared.testing.poll import eventually
from shared.testing.relay import relay_to
from shared.testing.services import opened
from shared.tests.conftest import Consuming
from shared.web import Backoff, HttpSettings, base_app, open_in_background

Client = TestClient[Any, Any]


async def test_a_broker_lost_midway_through_declaring_is_declared_whole_by_the_next_attempt(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    amqp_settings: AmqpSettings,
    amqp_connection: AbstractRobustConnection,
    consuming: Consuming,
) -> None:
    received: list[str] = []

    async def handler(_event: Event, delivery: Delivery) -> None:
        received.append(delivery.message_id)

    async with relay_to(amqp_settings.url, 5672) as relay:

        def through_relay(namespace: str) -> AmqpSettings:
            return dataclasses.replace(
                amqp_settings, url=relay.url(amqp_settings.url), namespace=namespace
            )

        # What a whole start sends, measured on a namespace of the same length, and what
        # connecting alone sends: the drop must land between the two.
        connected = await aio_pika.connect(relay.url(amqp_settings.url))
        await connected.close()
        handshake = relay.sent
        async with consuming(handler, settings=through_relay(new_namespace("s"))):
            whole_start = relay.sent - handshake
        assert handshake < whole_start // 2

        settings = through_relay(new_namespace("s"))
        relay.drop_once_after(whole_start // 2)

        @asynccontextmanager
        async def open_deps(app: web.Application) -> AsyncIterator[Messaging]:
            async with consuming(handler, settings=settings) as messaging:
                yield messaging

        app = base_app(HttpSettings())
        deps = open_in_background(app, open_deps, backoff=Backoff(first_s=0.05))
        client = await opened(await aiohttp_client(app))
        messaging = deps.get()

        assert relay.drops == 1
        names = Topology.from_settings(settings).queue_names("svc")
        channel = await amqp_connection.channel()
        for name in (names.main, names.retry, names.parked):
            await channel.declare_queue(name, passive=True)  # raises when it is missing
        await channel.close()
        message_id = await messaging.publisher.publish_event(
            TicketCreated(
                id="60029252cba1360018999688",
                version=0,
                title="x",
                price_cents=100,
                user_id="5fd843a29fc5e30023bd790b",
            )
        )
        await eventually(lambda: message_id in received, what="an event routed to the queue")
        await client.close()  # before the relay goes
