"""The worker survives Redis going away: it reports not ready, then resumes firing jobs."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from services.expiration.config import RedisSettings, Settings
from services.expiration.tests.conftest import Client, StartApp, order_created
from services.expiration.worker.app import create_app as create_worker_app
from shared.events import ExpirationComplete
from shared.messaging import Publisher
from shared.testing.events import EventTap
from shared.testing.poll import eventually


class RedisRelay:
    """A TCP relay to the real Redis that the test can cut (an outage) and restore."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        pipes = [
            asyncio.create_task(_pipe(reader, upstream_writer)),
            asyncio.create_task(_pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            writer.close()
            upstream_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


@pytest.fixture
async def relay(redis_url: str) -> AsyncIterator[RedisRelay]:
    target = urlsplit(redis_url)
    relay = RedisRelay(target.hostname or "127.0.0.1", target.port or 6379)
    await relay.restore()
    yield relay
    await relay.cut()


async def readiness_is(client: Client, status: int) -> bool:
    return (await client.get("/readyz")).status == status


async def test_the_worker_is_unready_during_a_redis_outage_and_fires_jobs_after_it(
    start_app: StartApp,
    settings: Settings,
    listener: Client,
    relay: RedisRelay,
    events: EventTap,
    publisher: Publisher,
) -> None:
    redis_url = urlsplit(settings.redis.url)._replace(netloc=f"127.0.0.1:{relay.port}").geturl()
    worker = await start_app(
        create_worker_app, dataclasses.replace(settings, redis=RedisSettings(url=redis_url))
    )
    await eventually(lambda: readiness_is(worker, 200))

    await relay.cut()
    await eventually(lambda: readiness_is(worker, 503))
    await relay.restore()
    await eventually(lambda: readiness_is(worker, 200))

    order = order_created(expires_in_s=0.0)
    await publisher.publish_event(order)
    expired = await events.wait_for(ExpirationComplete, lambda e: e.order_id == order.id)
    assert expired == ExpirationComplete(order_id=order.id)
