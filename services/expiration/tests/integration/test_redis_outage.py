"""The worker survives Redis going away: it reports not ready, then resumes firing jobs."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from services.expiration.bootstrap import create_worker as create_worker_app
from services.expiration.config import RedisSettings, Settings
from services.expiration.tests.conftest import Client, StartApp, order_created
from shared.events import ExpirationComplete
from shared.messaging import Publisher
from shared.testing.events import EventTap
from shared.testing.poll import eventually
from shared.testing.relay import TcpRelay, relay_to


@pytest.fixture
async def relay(redis_url: str) -> AsyncIterator[TcpRelay]:
    async with relay_to(redis_url, 6379) as relay:
        yield relay


async def readiness_is(client: Client, status: int) -> bool:
    return (await client.get("/readyz")).status == status


async def test_the_worker_is_unready_during_a_redis_outage_and_fires_jobs_after_it(
    start_app: StartApp,
    settings: Settings,
    listener: Client,
    relay: TcpRelay,
    events: EventTap,
    publisher: Publisher,
) -> None:
    worker = await start_app(
        create_worker_app,
        dataclasses.replace(settings, redis=RedisSettings(url=relay.url(settings.redis.url))),
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
