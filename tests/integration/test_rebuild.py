"""Rebuilding a replica while the services run (issue 15, docs/rebuild.md): orders' ticket
replica and payments' order replica are dropped mid-traffic and rebuilt, through real
RabbitMQ (snapshots, the event log) and each service's own MongoDB, to equality with
their owner; ``/readyz`` says ``rebuilding`` meanwhile. The test asks as the command does
(a request mark in the service's database); the service runs the rebuild."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp import web

from services.orders.api.keys import SETTINGS as ORDERS_SETTINGS
from services.payments.api.keys import DEPS as PAYMENTS_DEPS
from services.payments.api.keys import SETTINGS as PAYMENTS_SETTINGS
from services.payments.bootstrap import create_service as create_payments_app
from services.payments.config import Settings as PaymentsSettings
from services.payments.config import StripeSettings
from services.payments.service import Deps as PaymentsDeps
from services.tickets.api.keys import SETTINGS as TICKETS_SETTINGS
from shared.auth import IdentitySettings
from shared.events import SnapshotCompleted
from shared.logging import LogSettings
from shared.messaging import AmqpSettings, Topology, connect
from shared.messaging.rebuild import MongoRebuilds, request_rebuild
from shared.messaging.settings import EventLogSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.events import EventTap, event_publisher
from shared.testing.fixtures import Signin
from shared.testing.infra import fresh_database, mongo_server_url
from shared.testing.poll import eventually
from shared.testing.services import child_env, opened
from shared.web import HttpSettings
from tests.integration.conftest import Client, Orders, Service, Tickets, _dropped_after
from tests.integration.test_tickets_and_orders import order, sell

Payments = Service[PaymentsDeps]


@pytest.fixture
def amqp(amqp: AmqpSettings) -> AmqpSettings:
    """The test's settings with an event log (the suite's have none), removed afterwards."""
    return dataclasses.replace(amqp, event_log=EventLogSettings(max_age="1D"))


@pytest.fixture(autouse=True)
async def log_removed(amqp: AmqpSettings) -> AsyncIterator[None]:
    yield
    connection = await connect(amqp.url, connection_name="test-rebuild-cleanup")
    try:
        channel = await connection.channel()
        await channel.queue_delete(Topology.from_settings(amqp).log_name)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def payments_mongo_url() -> Iterator[str]:
    """payments' own server: mongoeco fails transactions that overlap on one server."""
    with mongo_server_url() as url:
        yield url


@pytest.fixture
async def payments(
    aiohttp_client: Callable[..., Awaitable[Client]],
    payments_mongo_url: str,
    amqp: AmqpSettings,
    identity: IdentitySettings,
    stripe_api_base: str,
    events: EventTap,
) -> AsyncIterator[Payments]:
    settings = PaymentsSettings(
        http=HttpSettings(),
        log=LogSettings(),
        mongo=fresh_database(payments_mongo_url, "payments"),
        amqp=amqp,
        identity=identity,
        stripe=StripeSettings(
            secret_key="sk_test_rebuild",
            webhook_secret="whsec_rebuild",
            api_base=stripe_api_base,
            max_network_retries=0,
        ),
    )
    app = create_payments_app(settings)
    yield Service(await opened(await aiohttp_client(app)), PAYMENTS_DEPS)
    await _dropped_after(settings.mongo)


def settings_of(service: Service[Any], key: web.AppKey[Any]) -> Any:
    app: web.Application = service.client.app
    return app[key]


async def rebuilt(service: Service[Any], key: web.AppKey[Any], replica: str) -> dict[str, Any]:
    """Ask ``service`` for a rebuild of ``replica`` as the command does; its final mark."""
    mongo = Mongo.connect(settings_of(service, key).mongo)
    try:
        return await request_rebuild(MongoRebuilds(mongo.db), replica, timeout_s=60, say=print)
    finally:
        await mongo.close()


async def mark_of(service: Service[Any], key: web.AppKey[Any], replica: str) -> dict[str, Any]:
    mongo = Mongo.connect(settings_of(service, key).mongo)
    try:
        return await MongoRebuilds(mongo.db).mark(replica) or {}
    finally:
        await mongo.close()


async def documents(settings: MongoSettings, collection: str) -> dict[str, dict[str, Any]]:
    """Every document of ``collection`` in the service's database, by id."""
    mongo = Mongo.connect(settings)
    try:
        return {str(doc.pop("_id")): doc async for doc in mongo.db[collection].find({})}
    finally:
        await mongo.close()


async def edit(tickets: Tickets, seller: dict[str, str], ticket_id: str, price: int) -> None:
    response = await tickets.client.put(
        f"/api/tickets/{ticket_id}", json={"title": f"moved to {price}", "price": price},
        cookies=seller,
    )  # fmt: skip
    assert response.status == 200, await response.text()


async def keep_editing(
    tickets: Tickets, seller: dict[str, str], ids: list[str], stop: asyncio.Event
) -> int:
    """Edit the tickets round and round until ``stop``; how many edits were made."""
    edits = 0
    while not stop.is_set():
        await edit(tickets, seller, ids[edits % len(ids)], 20 + edits % 50)
        edits += 1
        # A paced stream of edits, as users make them: flat out, mongoeco's conflicts
        # between overlapping transactions would be all the test measures.
        await asyncio.sleep(0.02)
    return edits


async def ticket_replica_equals_tickets(tickets: Tickets, orders: Orders) -> bool:
    """Every ticket in orders' replica at tickets' version, price and title, held by the
    order tickets says holds it."""
    owner = await documents(settings_of(tickets, TICKETS_SETTINGS).mongo, "tickets")
    replica = await documents(settings_of(orders, ORDERS_SETTINGS).mongo, "tickets")
    return {
        key: (doc["version"], doc["price_cents"], doc["title"], doc["order_id"])
        for key, doc in owner.items()
    } == {
        key: (doc["version"], doc["price_cents"], doc["title"], doc["held_by"])
        for key, doc in replica.items()
    }


async def order_replica_equals_orders(orders: Orders, payments: Payments) -> bool:
    """Every order in payments' replica as orders has it: version, status, buyer, expiry
    and price (orders' price is its ticket's)."""
    owner = await documents(settings_of(orders, ORDERS_SETTINGS).mongo, "orders")
    tickets = await documents(settings_of(orders, ORDERS_SETTINGS).mongo, "tickets")
    replica = await documents(settings_of(payments, PAYMENTS_SETTINGS).mongo, "orders")
    fields = ("version", "status", "user_id", "expires_at")
    expected = {
        key: (*(doc[f] for f in fields), tickets[doc["ticket_id"]]["price_cents"])
        for key, doc in owner.items()
    }
    return expected == {
        key: (*(doc[f] for f in fields), doc["price_cents"]) for key, doc in replica.items()
    }


async def keep_ordering(
    orders: Orders, buyer: dict[str, str], ticket_id: str, stop: asyncio.Event
) -> int:
    """Order the ticket and cancel the order, round and round until ``stop``; how many."""
    rounds = 0
    while not stop.is_set():
        placed = await order(orders, buyer, ticket_id)
        cancel = await orders.client.delete(f"/api/orders/{placed['id']}", cookies=buyer)
        assert cancel.status == 204, await cancel.text()
        rounds += 1
        await asyncio.sleep(0.05)  # paced, as in keep_editing
    return rounds


async def test_orders_ticket_replica_dropped_mid_traffic_is_rebuilt_equal_to_tickets(
    tickets: Tickets, orders: Orders, signin: Signin
) -> None:
    seller, buyer = signin(), signin()
    sold = [(await sell(tickets, seller, price=10 + n))["id"] for n in range(8)]
    held = await order(orders, buyer, sold[0])
    let_go = await order(orders, buyer, sold[1])
    cancel = await orders.client.delete(f"/api/orders/{let_go['id']}", cookies=buyer)
    assert cancel.status == 204, await cancel.text()
    await eventually(
        lambda: ticket_replica_equals_tickets(tickets, orders), what="the replica in step"
    )
    stop = asyncio.Event()
    editing = asyncio.create_task(keep_editing(tickets, seller, sold[2:], stop))

    mark = await rebuilt(orders, ORDERS_SETTINGS, "tickets")
    stop.set()
    edits = await editing

    assert mark["state"] == "done", mark
    assert "dropped 8, 8 snapshots" in mark["report"]
    assert edits > 0
    await eventually(
        lambda: ticket_replica_equals_tickets(tickets, orders),
        timeout_s=30,
        what="orders' ticket replica equal to tickets",
    )
    # And orders uses it as before: the held ticket is still held, the freed one orderable.
    again = await orders.client.post("/api/orders", json={"ticketId": sold[0]}, cookies=signin())
    assert again.status == 400, await again.text()
    assert (await order(orders, signin(), sold[1]))["status"] == "created"
    shown = await orders.client.get(f"/api/orders/{held['id']}", cookies=buyer)
    assert shown.status == 200


async def test_payments_order_replica_dropped_mid_traffic_is_rebuilt_equal_to_orders(
    tickets: Tickets, orders: Orders, payments: Payments, signin: Signin
) -> None:
    seller, buyer = signin(), signin()
    sold = [(await sell(tickets, seller, price=10 + n))["id"] for n in range(4)]
    placed = [await order(orders, buyer, ticket_id) for ticket_id in sold[:3]]
    cancel = await orders.client.delete(f"/api/orders/{placed[0]['id']}", cookies=buyer)
    assert cancel.status == 204
    paid = await pay(payments, buyer, placed[1]["id"])
    await eventually(
        lambda: order_complete(orders, buyer, placed[1]["id"]), what="the paid order complete"
    )
    stop = asyncio.Event()
    ordering = asyncio.create_task(keep_ordering(orders, signin(), sold[3], stop))

    mark = await rebuilt(payments, PAYMENTS_SETTINGS, "orders")
    stop.set()
    rounds = await ordering

    assert mark["state"] == "done", mark
    assert rounds > 0
    await eventually(
        lambda: order_replica_equals_orders(orders, payments),
        timeout_s=30,
        what="payments' order replica equal to orders",
    )
    # The payment the paid order keeps is payments' own: the rebuild kept it.
    replica = await payments.deps.orders.get(placed[1]["id"])
    assert replica is not None
    assert replica.paid_by == paid["id"]


async def pay(payments: Payments, buyer: dict[str, str], order_id: str) -> dict[str, Any]:
    async def paid() -> dict[str, Any] | None:
        response = await payments.client.post(
            "/api/payments", json={"orderId": order_id, "token": "pm_card_visa"}, cookies=buyer
        )
        if response.status in (404, 503):  # payments has not heard of the order yet
            return None
        assert response.status == 201, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    result: dict[str, Any] = await eventually(paid, what=f"a payment for {order_id}")
    return result


async def order_complete(orders: Orders, buyer: dict[str, str], order_id: str) -> bool:
    response = await orders.client.get(f"/api/orders/{order_id}", cookies=buyer)
    return response.status == 200 and (await response.json())["status"] == "complete"


async def test_readyz_says_rebuilding_while_a_rebuild_runs_and_ready_after(
    orders: Orders, amqp: AmqpSettings
) -> None:
    # No tickets service here: the rebuild waits for its answer, which the test gives.
    rebuilding = asyncio.create_task(rebuilt(orders, ORDERS_SETTINGS, "tickets"))

    async def waiting() -> dict[str, Any] | None:
        mark = await mark_of(orders, ORDERS_SETTINGS, "tickets")
        return mark if mark.get("stage") == "waiting for the snapshots" else None

    mark = await eventually(waiting, timeout_s=30, what="the rebuild waiting for tickets")
    during = await orders.client.get("/readyz")
    during_body = await during.json()
    async with event_publisher(amqp) as owner:
        await owner.publish_event(SnapshotCompleted(mark["run_id"], "ticket", 0))
    final = await rebuilding
    after = await orders.client.get("/readyz")

    assert during.status == 200
    assert during_body["status"] == "rebuilding"
    assert during_body["checks"]["rebuild"] == "rebuilding tickets"
    assert final["state"] == "done"
    assert after.status == 200
    assert (await after.json())["status"] == "ready"


def url_with_database(settings: MongoSettings) -> str:
    """The service's MONGO_URL with its database in the path, as a deployment gives it."""
    parts = urlsplit(settings.url)
    return urlunsplit(parts._replace(path=f"/{settings.database}"))


async def test_the_command_asks_the_service_and_prints_its_report(
    tickets: Tickets, orders: Orders, signin: Signin
) -> None:
    seller = signin()
    sold = [(await sell(tickets, seller))["id"] for _ in range(3)]
    await eventually(lambda: ticket_replica_equals_tickets(tickets, orders), what="in step")
    mongo = settings_of(orders, ORDERS_SETTINGS).mongo

    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.orders.rebuild", "tickets", "--timeout", "60",
        env=child_env(MONGO_URL=url_with_database(mongo)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await command.communicate()

    assert command.returncode == 0, output.decode()
    assert f"rebuilt tickets: dropped {len(sold)}, {len(sold)} snapshots" in output.decode()
    assert await ticket_replica_equals_tickets(tickets, orders)
