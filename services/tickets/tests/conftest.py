from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from services.tickets.api.keys import DEPS
from services.tickets.bootstrap import create_service
from services.tickets.config import Settings
from services.tickets.service import Deps
from shared.auth import IdentitySettings
from shared.events import OrderCreated, OrderStatus, TicketRef
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.events import EventTap
from shared.testing.services import opened
from shared.web import HttpSettings

Client = TestClient[Any, Any]


@pytest.fixture
def settings(
    mongo_settings: MongoSettings, amqp: AmqpSettings, jwt_keys: tuple[str, str]
) -> Settings:
    return Settings(
        http=HttpSettings(),
        log=LogSettings(),
        mongo=mongo_settings,
        amqp=amqp,
        identity=IdentitySettings(jwt_public_key=jwt_keys[1], cookie_secure=False),
    )


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    mongo: Mongo,
    events: EventTap,
) -> Client:
    return await opened(await aiohttp_client(create_service(settings)))


@pytest.fixture
def deps(client: Client) -> Deps:
    assert client.app is not None
    deps: Deps = client.app[DEPS].get()
    return deps


async def create_ticket(
    client: Client, cookies: dict[str, str], title: str = "concert", price: Any = 20
) -> dict[str, Any]:
    response = await client.post(
        "/api/tickets", json={"title": title, "price": price}, cookies=cookies
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def order_created(
    ticket_id: str, order_id: str | None = None, *, expires_at: datetime | None = None
) -> OrderCreated:
    return OrderCreated(
        id=order_id or str(ObjectId()),
        version=0,
        status=OrderStatus.CREATED,
        user_id=str(ObjectId()),
        expires_at=expires_at or datetime.now(UTC) + timedelta(minutes=15),
        ticket=TicketRef(id=ticket_id, price_cents=2000),
    )
