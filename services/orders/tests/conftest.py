from __future__ import annotations

import logging
import re
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
from shared.events import OrderCreated, TicketCreated
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.events import EventTap
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually
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


async def marker_order_announced(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> str:
    """Place a marker order and wait for its ``order.created``; its id.

    The outbox relay publishes oldest first, so by then every event committed before the
    marker is on the tap too: a barrier for "no second event", instead of a sleep.
    """
    marker = await place_order(client, signin(), await replicate_ticket(deps))
    await events.wait_for(OrderCreated, lambda e: e.id == marker["id"])
    return str(marker["id"])


# The consumer's line for each message it is done with: "<routing key> <message id>: <outcome>".
_SETTLED = re.compile(r"^\S+ (?P<message_id>\S+): (?P<outcome>handled|scheduled for retry|parked)$")


class Consumed:
    """What orders' consumer has done with each message, read from its log: a barrier that
    a message was handled (or refused for now) instead of a sleep."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def outcomes(self, message_id: str) -> list[str]:
        found = (_SETTLED.match(r.getMessage()) for r in self._caplog.records)
        return [m["outcome"] for m in found if m is not None and m["message_id"] == message_id]

    async def handled(self, message_id: str, times: int = 1) -> None:
        """Wait until ``message_id`` was handled (and acked) ``times`` times."""
        await eventually(
            lambda: self.outcomes(message_id).count("handled") >= times,
            what=f"{message_id} handled {times} times",
        )

    async def retried(self, message_id: str, times: int) -> None:
        """Wait until ``message_id`` was refused for now (and rescheduled) ``times`` times."""
        await eventually(
            lambda: self.outcomes(message_id).count("scheduled for retry") >= times,
            what=f"{message_id} retried {times} times",
        )


@pytest.fixture
def consumed(caplog: pytest.LogCaptureFixture) -> Consumed:
    caplog.set_level(logging.INFO, logger="shared.messaging.consumer")
    return Consumed(caplog)
