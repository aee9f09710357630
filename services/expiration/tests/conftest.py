from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from arq.connections import ArqRedis
from bson import ObjectId

from services.expiration.adapters.jobs import open_redis
from services.expiration.bootstrap import create_listener as create_listener_app
from services.expiration.bootstrap import create_worker as create_worker_app
from services.expiration.config import ExpirySettings, RedisSettings, Settings
from shared.events import OrderCreated, OrderStatus, TicketRef
from shared.logging import LogSettings
from shared.messaging import AmqpSettings, Publisher
from shared.testing.events import event_publisher
from shared.testing.services import opened
from shared.web import HttpSettings

Client = TestClient[Any, Any]
AppFactory = Callable[[Settings], web.Application]
StartApp = Callable[[AppFactory, Settings], Awaitable[Client]]

APP_FACTORIES = pytest.mark.parametrize(
    "create_app", [create_listener_app, create_worker_app], ids=["listener", "worker"]
)


@pytest.fixture
def settings(amqp: AmqpSettings, redis_url: str, amqp_namespace: str) -> Settings:
    """The production worker tuning, on an arq queue of this test's own, with quick retries."""
    return Settings(
        http=HttpSettings(),
        log=LogSettings(),
        amqp=amqp,
        redis=RedisSettings(url=redis_url),
        expiry=ExpirySettings(
            queue_name=f"arq:{amqp_namespace}.expiration",
            keep_result_s=60.0,
            first_retry_delay_s=0.1,
            max_retry_delay_s=0.2,
        ),
    )


@pytest.fixture
def start_app(aiohttp_client: Callable[..., Awaitable[Client]]) -> StartApp:
    """Start ``create_app(settings)`` on a test server; stopped after the test."""

    async def start(create_app: AppFactory, settings: Settings) -> Client:
        return await opened(await aiohttp_client(create_app(settings)))

    return start


@pytest.fixture
async def listener(start_app: StartApp, settings: Settings) -> Client:
    return await start_app(create_listener_app, settings)


@pytest.fixture
async def worker(start_app: StartApp, settings: Settings) -> Client:
    return await start_app(create_worker_app, settings)


@pytest.fixture
async def publisher(amqp: AmqpSettings) -> AsyncIterator[Publisher]:
    """Publishes as orders would."""
    async with event_publisher(amqp) as publisher:
        yield publisher


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[ArqRedis]:
    async with open_redis(RedisSettings(url=redis_url)) as redis:
        yield redis


def order_created(*, expires_in_s: float, order_id: str | None = None) -> OrderCreated:
    return OrderCreated(
        id=order_id or str(ObjectId()),
        version=0,
        status=OrderStatus.CREATED,
        user_id=str(ObjectId()),
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in_s),
        ticket=TicketRef(id=str(ObjectId()), price_cents=2000),
    )
