"""tickets against real MongoDB and RabbitMQ outages, each behind a relay the test cuts.

It starts with both down and serves once they are back, declaring its whole topology then;
a database lost later answers 503 (not 500) until it returns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from services.tickets.bootstrap import create_service
from services.tickets.config import Settings
from services.tickets.tests.conftest import Client, create_ticket, order_created
from shared.events import TicketCreated
from shared.messaging import AmqpSettings
from shared.mongo import Mongo
from shared.testing.events import EventTap, event_publisher
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually
from shared.testing.relay import TcpRelay, relay_to
from shared.testing.services import opened

StartClient = Callable[..., Awaitable[Client]]
UNAVAILABLE = {"errors": [{"message": "Service temporarily unavailable"}]}
STARTING = {"errors": [{"message": "Service is starting; retry shortly"}]}


@pytest.fixture
async def mongo_relay(settings: Settings) -> AsyncIterator[TcpRelay]:
    async with relay_to(settings.mongo.url, 27017, up=False) as relay:
        yield relay


@pytest.fixture
async def broker_relay(settings: Settings) -> AsyncIterator[TcpRelay]:
    async with relay_to(settings.amqp.url, 5672, up=False) as relay:
        yield relay


def through(settings: Settings, mongo: TcpRelay, broker: TcpRelay) -> Settings:
    """``settings`` with both dependencies reached through the relays."""
    return dataclasses.replace(
        settings,
        mongo=dataclasses.replace(
            settings.mongo,
            # directConnection: a replica set's members would otherwise be found around it.
            url=mongo.url(settings.mongo.url, directConnection="true"),
            server_selection_timeout_ms=300,
        ),
        amqp=dataclasses.replace(settings.amqp, url=broker.url(settings.amqp.url)),
    )


async def last_attempt_failed_with(client: Client, error: str) -> bool:
    """Whether /readyz (503) says the last attempt to open the dependencies raised ``error``."""
    response = await client.get("/readyz")
    assert response.status == 503
    reason: str = (await response.json())["checks"]["startup"]
    return reason.endswith(f"failed with {error}")


async def test_tickets_starts_with_mongodb_and_rabbitmq_down_and_serves_once_they_are_back(
    aiohttp_client: StartClient,
    settings: Settings,
    mongo: Mongo,
    mongo_relay: TcpRelay,
    broker_relay: TcpRelay,
    events: EventTap,
    amqp: AmqpSettings,
    signin: Signin,
) -> None:
    client = await aiohttp_client(create_service(through(settings, mongo_relay, broker_relay)))
    cookies = signin()

    alive = await client.get("/healthz")
    refused = await client.post("/api/tickets", json={"title": "t", "price": 5}, cookies=cookies)
    listed = await client.get("/api/tickets")
    assert alive.status == 200
    assert (refused.status, await refused.json()) == (503, STARTING)
    assert (listed.status, await listed.json()) == (503, STARTING)
    await eventually(lambda: last_attempt_failed_with(client, "ServerSelectionTimeoutError"))

    await mongo_relay.restore()
    await eventually(lambda: last_attempt_failed_with(client, "AMQPConnectionError"))

    await broker_relay.restore()
    await opened(client)
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"mongo": "ok", "rabbitmq": "ok"}

    ticket = await create_ticket(client, cookies, title="after the outage", price=5)
    await events.wait_for(TicketCreated, lambda e: e.id == ticket["id"])
    # Its queue was declared and bound when the broker came back: order events arrive.
    async with event_publisher(amqp) as publisher:
        order = order_created(ticket["id"])
        await publisher.publish_event(order)

    async def reserved() -> bool:
        shown = await (await client.get(f"/api/tickets/{ticket['id']}")).json()
        return bool(shown.get("orderId") == order.id)

    await eventually(reserved, what="order.created to reach tickets")


async def test_a_database_lost_after_startup_answers_503_until_it_returns(
    aiohttp_client: StartClient,
    settings: Settings,
    mongo: Mongo,
    mongo_relay: TcpRelay,
    events: EventTap,
    signin: Signin,
) -> None:
    await mongo_relay.restore()
    mongo_settings = dataclasses.replace(
        settings.mongo,
        url=mongo_relay.url(settings.mongo.url, directConnection="true"),
        server_selection_timeout_ms=300,
    )
    client = await opened(
        await aiohttp_client(create_service(dataclasses.replace(settings, mongo=mongo_settings)))
    )
    cookies = signin()
    await create_ticket(client, cookies, title="before", price=5)

    await mongo_relay.cut()
    refused = await client.post("/api/tickets", json={"title": "t", "price": 5}, cookies=cookies)
    listed = await client.get("/api/tickets")
    unready = await client.get("/readyz")
    assert (refused.status, await refused.json()) == (503, UNAVAILABLE)
    assert (listed.status, await listed.json()) == (503, UNAVAILABLE)
    assert unready.status == 503
    assert (await unready.json())["checks"]["mongo"] == "down: ServerSelectionTimeoutError"

    await mongo_relay.restore()

    # The driver sees the server again at its next check (pymongo checks at most every
    # 500 ms, longer than this client's 300 ms server selection), so the first request
    # after the return may still be refused.
    async def created_again() -> Any:
        response = await client.post(
            "/api/tickets", json={"title": "after", "price": 5}, cookies=cookies
        )
        if response.status == 503:
            return None
        assert response.status == 201, await response.text()
        return await response.json()

    after = await eventually(created_again, what="a ticket created once MongoDB is back")
    await events.wait_for(TicketCreated, lambda e: e.id == after["id"])
    assert (await client.get("/readyz")).status == 200
