from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from bson import ObjectId

from services.orders import service
from services.orders.api.keys import DEPS
from services.orders.bootstrap import create_service
from services.orders.config import OrderSettings, Settings
from services.orders.domain import Order, Ticket
from services.orders.service import Deps
from shared.auth import IdentitySettings
from shared.events import TicketCreated
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.events import EventTap
from shared.testing.services import opened
from shared.web import HttpSettings

Client = TestClient[Any, Any]
HOLD_S = 900


@pytest.fixture
def order_settings() -> OrderSettings:
    # The sweep is tested on its own; here it must not race the tests.
    return OrderSettings(expiration_s=HOLD_S, sweep_interval_s=3600, sweep_grace_s=60)


@pytest.fixture
def settings(
    mongo_settings: MongoSettings,
    amqp: AmqpSettings,
    jwt_keys: tuple[str, str],
    order_settings: OrderSettings,
) -> Settings:
    return Settings(
        http=HttpSettings(),
        log=LogSettings(),
        mongo=mongo_settings,
        amqp=amqp,
        identity=IdentitySettings(jwt_public_key=jwt_keys[1], cookie_secure=False),
        orders=order_settings,
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


def ticket_created(
    title: str = "concert", price_cents: int = 2000, seller_id: str | None = None
) -> TicketCreated:
    return TicketCreated(
        id=str(ObjectId()),
        version=0,
        title=title,
        price_cents=price_cents,
        user_id=seller_id or str(ObjectId()),
    )


async def replicate_ticket(
    deps: Deps, title: str = "concert", price_cents: int = 2000, seller_id: str | None = None
) -> str:
    """A ticket in the replica, as if ``ticket.created`` had arrived; its id."""
    event = ticket_created(title, price_cents, seller_id)
    await service.replicate_ticket(event, deps=deps)
    return event.id


async def place_order(
    client: Client, cookies: dict[str, str], ticket_id: str, **kwargs: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/orders", json={"ticketId": ticket_id}, cookies=cookies, **kwargs
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def replica(deps: Deps, ticket_id: str) -> Ticket | None:
    """The ticket as orders' replica holds it now."""
    async with deps.uow() as tx:
        return await tx.tickets.get(ticket_id)


async def stored_order(deps: Deps, order_id: str) -> Order:
    """The order as stored now; it must exist."""
    order = await deps.orders.get(order_id)
    assert order is not None, f"order {order_id} is not stored"
    return order
