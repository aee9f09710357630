"""Spec §14.7 in full: 200 tickets created at 5, updated to 10, then 15, all at once.

Runs tickets and orders in this process on real RabbitMQ and MongoDB (``MONGO_URL``, or a
mongoeco server per service), drives them over HTTP, then waits for the orders replica to
converge and prints what each store holds. With versioned replication every ticket ends at
15 in both; a replica that applied events out of order would show some at 10.

    .venv/bin/python bench/ticket_updates.py [--tickets 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from deploy.local.hosts import DEFAULT_AMQP_URL
from deploy.local.keys import generate_keypair
from services.orders.api.keys import DEPS as ORDERS_DEPS
from services.orders.bootstrap import create_service as create_orders_app
from services.orders.config import OrderSettings
from services.orders.config import Settings as OrdersSettings
from services.tickets.api.keys import DEPS as TICKETS_DEPS
from services.tickets.bootstrap import create_service as create_tickets_app
from services.tickets.config import Settings as TicketsSettings
from shared.auth import IdentitySettings
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import Mongo
from shared.testing.identity import signin_cookie
from shared.testing.infra import fresh_database, mongo_server_url
from shared.testing.services import until_open
from shared.web import HttpSettings

PRICES = (5, 10, 15)


@contextlib.asynccontextmanager
async def servers(
    tickets_url: str, orders_url: str, public_key: str
) -> AsyncIterator[tuple[TestServer, TestServer]]:
    amqp = AmqpSettings(
        url=os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
        namespace=f"bench{uuid.uuid4().hex[:8]}",
        retry_delay_ms=200,
        max_retries=50,
    )
    identity = IdentitySettings(jwt_public_key=public_key, cookie_secure=False)
    common: dict[str, Any] = {"http": HttpSettings(), "log": LogSettings(), "amqp": amqp}
    tickets = TicketsSettings(
        mongo=fresh_database(tickets_url, "bench_tickets"), identity=identity, **common
    )
    orders = OrdersSettings(
        mongo=fresh_database(orders_url, "bench_orders"),
        identity=identity,
        orders=OrderSettings(),
        **common,
    )
    orders_server = TestServer(create_orders_app(orders))
    tickets_server = TestServer(create_tickets_app(tickets))
    async with orders_server, tickets_server:
        # Both open before the first request, so orders' queue is bound before the first
        # ticket.created is published.
        for server in (orders_server, tickets_server):
            await until_open(server.app)
        try:
            yield tickets_server, orders_server
        finally:
            for settings in (tickets.mongo, orders.mongo):
                mongo = Mongo.connect(settings)
                await mongo.client.drop_database(settings.database)
                await mongo.close()


async def reprice(http: aiohttp.ClientSession, base: str, cookies: dict[str, str]) -> str:
    """Create a ticket at 5, then update it to 10 and 15, one request after the other."""
    async with http.post(
        f"{base}/api/tickets", json={"title": "concert", "price": PRICES[0]}, cookies=cookies
    ) as response:
        assert response.status == 201, await response.text()
        ticket_id = str((await response.json())["id"])
    for price in PRICES[1:]:
        async with http.put(
            f"{base}/api/tickets/{ticket_id}",
            json={"title": "concert", "price": price},
            cookies=cookies,
        ) as response:
            assert response.status == 200, await response.text()
    return ticket_id


async def main(count: int, timeout_s: float) -> int:
    private_key, public_key = generate_keypair()
    cookies = signin_cookie(private_key)
    with mongo_server_url() as tickets_url, mongo_server_url() as orders_url:
        async with servers(tickets_url, orders_url, public_key) as (tickets, orders):
            base = str(tickets.make_url("")).rstrip("/")
            started = time.perf_counter()
            async with aiohttp.ClientSession() as http:
                ids = await asyncio.gather(*(reprice(http, base, cookies) for _ in range(count)))
            requests_s = time.perf_counter() - started

            owned = tickets.app[TICKETS_DEPS].get().tickets
            orders_uow = orders.app[ORDERS_DEPS].get().uow
            deadline = time.perf_counter() + timeout_s
            while True:
                # orders' replica is read through its unit of work (its only port to it).
                async with orders_uow() as tx:
                    replicas = [await tx.tickets.get(i) for i in ids]
                converged = all(r is not None and r.version == 2 for r in replicas)
                if converged or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.2)
            converge_s = time.perf_counter() - started
            sources = [await owned.get(i) for i in ids]

    def at(items: list[Any], price: int) -> int:
        return sum(1 for item in items if item is not None and item.price_cents == price * 100)

    print(
        f"tickets: {count}, requests: {3 * count} in {requests_s:.2f} s "
        f"({3 * count / requests_s:.0f} req/s)"
    )
    print(f"replica converged: {converged} after {converge_s:.2f} s")
    for price in PRICES:
        print(
            f"price {price:>2}: tickets service {at(sources, price):>4}, "
            f"orders replica {at(replicas, price):>4}"
        )
    consistent = converged and at(sources, 15) == at(replicas, 15) == count
    print("consistent" if consistent else "INCONSISTENT")
    return 0 if consistent else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to converge")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.tickets, args.timeout)))
