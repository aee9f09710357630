"""Tickets and orders side by side in one event loop, on one exchange, each with its own MongoDB.

mongoeco fails a transaction whenever another transaction overlaps it on the same server,
so each service gets a server of its own (as ``make up`` does); a real MongoDB at
``MONGO_URL`` serves both, in separate databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.orders.api.keys import DEPS as ORDERS_DEPS
from services.orders.bootstrap import create_service as create_orders_app
from services.orders.config import OrderSettings
from services.orders.config import Settings as OrdersSettings
from services.orders.service import Deps as OrdersDeps
from services.tickets.api.keys import DEPS as TICKETS_DEPS
from services.tickets.bootstrap import create_service as create_tickets_app
from services.tickets.config import Settings as TicketsSettings
from services.tickets.service import Deps as TicketsDeps
from shared.auth import IdentitySettings
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.events import EventTap
from shared.testing.infra import fresh_database, mongo_server_url
from shared.testing.services import opened
from shared.web import Dependencies, HttpSettings

Client = TestClient[Any, Any]


@pytest.fixture(scope="session")
def orders_mongo_url() -> Iterator[str]:
    """orders' own server (``mongo_url`` is tickets'), unless a real MongoDB is given."""
    with mongo_server_url() as url:
        yield url


D = TypeVar("D")


@dataclass(frozen=True)
class Service(Generic[D]):
    """A running app and the use cases' dependencies it built."""

    client: Client
    deps_key: web.AppKey[Dependencies[D]]

    @property
    def deps(self) -> D:
        app: web.Application = self.client.app
        return app[self.deps_key].get()


Tickets = Service[TicketsDeps]
Orders = Service[OrdersDeps]


async def _dropped_after(settings: MongoSettings) -> None:
    mongo = Mongo.connect(settings)
    try:
        await mongo.client.drop_database(settings.database)
    finally:
        await mongo.close()


@pytest.fixture
def identity(jwt_keys: tuple[str, str]) -> IdentitySettings:
    return IdentitySettings(jwt_public_key=jwt_keys[1], cookie_secure=False)


@pytest.fixture
def order_settings() -> OrderSettings:
    return OrderSettings(expiration_s=900, sweep_interval_s=3600, sweep_grace_s=60)


@pytest.fixture
async def tickets(
    aiohttp_client: Callable[..., Awaitable[Client]],
    mongo_url: str,
    amqp: AmqpSettings,
    identity: IdentitySettings,
    events: EventTap,
) -> AsyncIterator[Tickets]:
    settings = TicketsSettings(
        http=HttpSettings(),
        log=LogSettings(),
        mongo=fresh_database(mongo_url, "tickets"),
        amqp=amqp,
        identity=identity,
    )
    yield Service(await opened(await aiohttp_client(create_tickets_app(settings))), TICKETS_DEPS)
    await _dropped_after(settings.mongo)


@pytest.fixture
async def orders(
    aiohttp_client: Callable[..., Awaitable[Client]],
    orders_mongo_url: str,
    amqp: AmqpSettings,
    identity: IdentitySettings,
    order_settings: OrderSettings,
    events: EventTap,
) -> AsyncIterator[Orders]:
    settings = OrdersSettings(
        http=HttpSettings(),
        log=LogSettings(),
        mongo=fresh_database(orders_mongo_url, "orders"),
        amqp=amqp,
        identity=identity,
        orders=order_settings,
    )
    yield Service(await opened(await aiohttp_client(create_orders_app(settings))), ORDERS_DEPS)
    await _dropped_after(settings.mongo)
