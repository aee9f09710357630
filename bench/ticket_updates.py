"""Spec §14.7 in full: 200 tickets created at 5, updated to 10, then 15, all at once.

Runs tickets and orders in this process on real RabbitMQ and MongoDB (``MONGO_URL``, or a
mongoeco server per service), drives them over HTTP, then waits for the orders replica to
converge and prints what each store holds. With versioned replication every ticket ends at
15 in both; a replica that applied events out of order would show some at 10.

The figure (issue 17: at most 3 s) is how long after the answer to the last write the
replica had converged, and how many replicas still held an old price 5 s after it. The
barrier is orders' own count of settled ``ticket.updated`` deliveries (no polling of its
database while it works); the replica is then read to confirm.

    .venv/bin/python -m bench.ticket_updates [--tickets 200] [--quick] [--json PATH]

Exit status 1 when the stores disagree at the end (a wrong result, not a missed goal).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY

from bench.report import Row, cpu_seconds, table, write_json
from deploy.local.hosts import DEFAULT_AMQP_URL
from deploy.local.keys import generate_keypair
from deploy.local.mongodb import MongoServer
from services.orders.api.keys import DEPS as ORDERS_DEPS
from services.orders.bootstrap import create_service as create_orders_app
from services.orders.config import OrderSettings
from services.orders.config import Settings as OrdersSettings
from services.tickets.api.keys import DEPS as TICKETS_DEPS
from services.tickets.bootstrap import create_service as create_tickets_app
from services.tickets.config import Settings as TicketsSettings
from shared.auth import IdentitySettings
from shared.logging import LogSettings
from shared.messaging import AmqpSettings, Topology, connect
from shared.mongo import Mongo
from shared.testing.identity import signin_cookie
from shared.testing.infra import fresh_database, given_mongo_url
from shared.testing.services import until_open
from shared.web import HttpSettings

PRICES = (5, 10, 15)
GOAL_S = 3.0
CLEANUP_TIMEOUT_S = 10.0
LATE_LOOK_S = 5.0  # the issue counts replicas still behind this long after the last write


@dataclass
class Stores:
    """Where tickets and orders keep their data, and the stand-ins' pids (none on MONGO_URL)."""

    tickets_url: str
    orders_url: str
    pids: list[int]

    def cpu_s(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)


@contextlib.contextmanager
def stores() -> Iterator[Stores]:
    """``MONGO_URL`` for both, or a mongoeco server each (as ``make up`` runs them)."""
    if (given := given_mongo_url()) is not None:
        yield Stores(given, given, [])
        return
    with contextlib.ExitStack() as stack:
        servers = [MongoServer.start() for _ in range(2)]
        for server in servers:
            stack.callback(server.stop)
        yield Stores(servers[0].url, servers[1].url, [s.process.pid for s in servers])


@dataclass
class Services:
    tickets: TestServer
    orders: TestServer
    cookies: dict[str, str]

    @property
    def base(self) -> str:
        return str(self.tickets.make_url("")).rstrip("/")


@contextlib.asynccontextmanager
async def services(where: Stores) -> AsyncIterator[Services]:
    """tickets and orders in this process, each on a database of its own, both consuming."""
    private_key, public_key = generate_keypair()
    amqp = AmqpSettings(
        url=os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
        namespace=f"bench{uuid.uuid4().hex[:8]}",
        retry_delay_ms=200,
        max_retries=50,
    )
    identity = IdentitySettings(jwt_public_key=public_key, cookie_secure=False)
    common: dict[str, Any] = {"http": HttpSettings(), "log": LogSettings(), "amqp": amqp}
    tickets = TicketsSettings(
        mongo=fresh_database(where.tickets_url, "bench_tickets"), identity=identity, **common
    )
    orders = OrdersSettings(
        mongo=fresh_database(where.orders_url, "bench_orders"),
        identity=identity,
        orders=OrderSettings(),
        **common,
    )
    orders_server = TestServer(create_orders_app(orders))
    tickets_server = TestServer(create_tickets_app(tickets))
    async with removing_topology(amqp, ("tickets", "orders")), orders_server, tickets_server:
        # Both open before the first request, so orders' queue is bound before the first
        # ticket.created is published.
        for server in (orders_server, tickets_server):
            await until_open(server.app)
        try:
            yield Services(tickets_server, orders_server, signin_cookie(private_key))
        finally:
            for settings in (tickets.mongo, orders.mongo):
                mongo = Mongo.connect(settings)
                await mongo.client.drop_database(settings.database)
                await mongo.close()


@contextlib.asynccontextmanager
async def removing_topology(amqp: AmqpSettings, names: Sequence[str]) -> AsyncIterator[None]:
    """On exit, delete the services' queues and exchanges the bench's namespace declared:
    quorum queues left behind by every run pile up in the broker (RabbitMQ 3.10 wedged
    here after thousands)."""
    try:
        yield
    finally:
        topology = Topology.from_settings(amqp)
        try:
            async with asyncio.timeout(CLEANUP_TIMEOUT_S):
                connection = await connect(amqp.url, connection_name="bench-cleanup")
                try:
                    channel = await connection.channel()
                    for name in names:
                        queues = topology.queue_names(name)
                        for queue in (queues.main, queues.retry, queues.parked):
                            await channel.queue_delete(queue)
                        await channel.exchange_delete(queues.requeue)
                    await channel.exchange_delete(topology.exchange_name)
                finally:
                    await connection.close()
        except Exception as exc:  # tidying must not cost the figures
            print(f"could not delete the bench's queues ({amqp.namespace}.*): {exc!r}")


def settled(event: str, outcome: str = "acked") -> float:
    """Deliveries of ``event`` this process's consumers settled so (orders', in these benches)."""
    return (
        REGISTRY.get_sample_value("events_consumed_total", {"event": event, "outcome": outcome})
        or 0.0
    )


async def create_ticket(http: aiohttp.ClientSession, stack: Services, price: int) -> str:
    async with http.post(
        f"{stack.base}/api/tickets",
        json={"title": "concert", "price": price},
        cookies=stack.cookies,
    ) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])


async def update_ticket(
    http: aiohttp.ClientSession, stack: Services, ticket_id: str, price: int
) -> None:
    async with http.put(
        f"{stack.base}/api/tickets/{ticket_id}",
        json={"title": "concert", "price": price},
        cookies=stack.cookies,
    ) as response:
        assert response.status == 200, await response.text()


async def reprice(http: aiohttp.ClientSession, stack: Services) -> str:
    """Create a ticket at 5, then update it to 10 and 15, one request after the other."""
    ticket_id = await create_ticket(http, stack, PRICES[0])
    for price in PRICES[1:]:
        await update_ticket(http, stack, ticket_id, price)
    return ticket_id


async def replica_versions(stack: Services, ids: Sequence[str]) -> list[Any]:
    """orders' replicas of ``ids``, read through its unit of work (its only port to them)."""
    orders_uow = stack.orders.app[ORDERS_DEPS].get().uow
    async with orders_uow() as tx:
        return [await tx.tickets.get(i) for i in ids]


@dataclass
class Playground:
    count: int
    requests_s: float
    converged: bool
    after_last_write_s: float
    behind_at_late_look: int
    consistent: bool
    standin_cpu: float | None
    summary: str


async def playground(count: int, timeout_s: float) -> Playground:
    with stores() as where:
        async with services(where) as stack:
            updates_before = settled("ticket.updated")
            retries_before = settled("ticket.updated", "retried")
            started = time.perf_counter()
            cpu_before = where.cpu_s()
            async with aiohttp.ClientSession() as http:
                ids = await asyncio.gather(*(reprice(http, stack) for _ in range(count)))
            last_write = time.perf_counter()
            expected = updates_before + count * (len(PRICES) - 1)
            behind_at_late_look = -1
            deadline = last_write + timeout_s
            converged = False
            while time.perf_counter() < deadline:
                if behind_at_late_look < 0 and time.perf_counter() - last_write >= LATE_LOOK_S:
                    replicas = await replica_versions(stack, ids)
                    behind_at_late_look = sum(1 for r in replicas if r is None or r.version < 2)
                # Every update acked is every update applied: an early one is retried, not
                # acked, until its predecessor is in (a duplicate would be acked twice and
                # end this wait early; the read below would then say so).
                if settled("ticket.updated") >= expected:
                    replicas = await replica_versions(stack, ids)
                    if all(r is not None and r.version == 2 for r in replicas):
                        converged = True
                        break
                await asyncio.sleep(0.005)
            after_last_write_s = time.perf_counter() - last_write
            retried = int(settled("ticket.updated", "retried") - retries_before)
            standin_cpu = (where.cpu_s() - cpu_before) / (time.perf_counter() - started)
            replicas = await replica_versions(stack, ids)
            owned = stack.tickets.app[TICKETS_DEPS].get().tickets
            sources = [await owned.get(i) for i in ids]
    if behind_at_late_look < 0:
        behind_at_late_look = 0  # converged before the late look

    def at(items: list[Any], price: int) -> int:
        return sum(1 for item in items if item is not None and item.price_cents == price * 100)

    requests_s = last_write - started
    lines = [
        f"tickets: {count}, requests: {3 * count} in {requests_s:.2f} s "
        f"({3 * count / requests_s:.0f} req/s)",
        f"replica converged: {converged}, {after_last_write_s:.2f} s after the last write "
        f"({behind_at_late_look} behind {LATE_LOOK_S:g} s after it; {retried} early "
        "updates retried)",
    ]
    for price in PRICES:
        lines.append(
            f"price {price:>2}: tickets service {at(sources, price):>4}, "
            f"orders replica {at(replicas, price):>4}"
        )
    consistent = converged and at(sources, PRICES[-1]) == at(replicas, PRICES[-1]) == count
    lines.append("consistent" if consistent else "INCONSISTENT")
    return Playground(
        count=count,
        requests_s=requests_s,
        converged=converged,
        after_last_write_s=after_last_write_s,
        behind_at_late_look=behind_at_late_look,
        consistent=consistent,
        standin_cpu=standin_cpu if where.pids else None,
        summary="\n".join(lines),
    )


def rows(result: Playground) -> list[Row]:
    return [
        Row(
            "playground convergence after its last write",
            result.after_last_write_s,
            None,
            "s",
            GOAL_S,
            "absolute",
            standin_cpu=result.standin_cpu,
            note=(
                f"{result.count} tickets, 3 writes each; {result.behind_at_late_look} replicas "
                f"behind {LATE_LOOK_S:g} s after the last write"
            ),
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to converge")
    parser.add_argument("--quick", action="store_true", help="20 tickets: does it complete?")
    parser.add_argument("--json", help="write the rows (bench.report.Row) to this file")
    args = parser.parse_args()
    result = asyncio.run(playground(20 if args.quick else args.tickets, args.timeout))
    print(result.summary)
    found = rows(result)
    print(table(found))
    if args.json:
        write_json(args.json, found)
    return 0 if result.consistent else 1


if __name__ == "__main__":
    raise SystemExit(main())
