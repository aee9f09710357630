"""orders as a real process: SIGTERM in the middle of a burst of orders loses nothing.

In-flight requests finish with their answer (no connection reset), every order they
created has its ``order.created`` published before the process exits, and it exits 0.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from services.orders.tests.conftest import ticket_created
from shared.events import OrderCreated
from shared.messaging import AmqpSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.events import EventTap, event_publisher
from shared.testing.identity import signin_cookie
from shared.testing.infra import given_mongo_url
from shared.testing.poll import eventually
from shared.testing.services import child_env, free_port, running, wait_for

BURST = 30


def with_database(url: str, database: str) -> str:
    base, _, query = url.partition("?")
    return f"{base.rstrip('/')}/{database}" + (f"?{query}" if query else "")


@pytest.fixture
def database() -> str:
    return f"shutdown_{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def orders_db(mongo_url: str, database: str) -> AsyncIterator[Mongo]:
    mongo = Mongo.connect(MongoSettings(url=mongo_url, database=database))
    try:
        yield mongo
    finally:
        await mongo.client.drop_database(database)
        await mongo.close()


@pytest.fixture
def orders_process(
    mongo_url: str, database: str, amqp: AmqpSettings, jwt_keys: tuple[str, str]
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = free_port()
    env = child_env(
        MONGO_URL=with_database(mongo_url, database),
        MONGO_SERIALIZE_WRITES=str(given_mongo_url() is None).lower(),
        AMQP_URL=amqp.url,
        AMQP_NAMESPACE=amqp.namespace,
        AMQP_QUEUE_TYPE=amqp.queue_type,
        JWT_PUBLIC_KEY=jwt_keys[1],
        COOKIE_SECURE="false",  # signin_cookie's `session`, not `__Host-session`
        HOST="127.0.0.1",
        PORT=str(port),
        SHUTDOWN_TIMEOUT_SECONDS="20",
        ORDERS_MAX_OPEN_PER_USER=str(BURST),  # one buyer places the whole burst
    )
    with running("services.orders", env) as process:
        wait_for(port)
        yield process, f"http://127.0.0.1:{port}"


async def test_sigterm_during_a_burst_of_orders_loses_no_request_and_no_event(
    orders_process: tuple[subprocess.Popen[str], str],
    orders_db: Mongo,
    amqp: AmqpSettings,
    events: EventTap,
    jwt_keys: tuple[str, str],
) -> None:
    process, base = orders_process
    tickets = [ticket_created() for _ in range(BURST)]
    async with event_publisher(amqp) as publisher:
        for ticket in tickets:
            await publisher.publish_event(ticket)

    async def replicated() -> bool:
        return await orders_db.db.tickets.count_documents({}) == BURST

    await eventually(replicated, timeout_s=20, what="every ticket replicated")
    cookies = signin_cookie(jwt_keys[0])
    signalled_at = 0.0

    first_answer = asyncio.Event()

    async def order(http: aiohttp.ClientSession, ticket_id: str) -> tuple[Any, float]:
        try:
            async with http.post(
                f"{base}/api/orders", json={"ticketId": ticket_id}, cookies=cookies
            ) as response:
                first_answer.set()
                return (response.status, await response.json()), time.monotonic()
        except aiohttp.ClientError as exc:
            return exc, time.monotonic()

    # A new connection per request: a refused connection then means "not accepted",
    # never a reused keep-alive socket closed under us.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        burst = [asyncio.create_task(order(http, t.id)) for t in tickets]
        # One answer means the server is working through the burst: the rest are in
        # flight (writes are serialized), the moment a rolling update would hit.
        await asyncio.wait_for(first_answer.wait(), 20)
        process.send_signal(signal.SIGTERM)
        signalled_at = time.monotonic()
        results = await asyncio.gather(*burst)

    answered = [outcome for outcome, _ in results if isinstance(outcome, tuple)]
    failures = [outcome for outcome, _ in results if not isinstance(outcome, tuple)]
    assert failures == [], f"requests lost in the shutdown: {failures}"
    assert [status for status, _ in answered] == [201] * BURST
    assert any(at > signalled_at for _, at in results), "SIGTERM came after the burst"
    assert process.wait(30) == 0
    order_ids = {body["id"] for _, body in answered}

    def all_published() -> bool:
        return order_ids <= {e.id for e in events.of(OrderCreated)}

    await eventually(all_published, what="an order.created for every order")
    assert await orders_db.db.orders.count_documents({}) == BURST
