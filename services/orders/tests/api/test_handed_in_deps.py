"""The HTTP app on dependencies a test hands in (``create_app(settings, deps=...)``): the
handlers, schemas and error shape over the in-memory twins, with no broker and no MongoDB."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.orders.api.app import create_app
from services.orders.config import Settings
from services.orders.tests.conftest import Client
from services.orders.tests.unit.twins import Twins, a_ticket, twins
from shared.testing.fixtures import Signin
from shared.testing.services import opened


@pytest.fixture
def t() -> Twins:
    return twins()


@pytest.fixture
async def on_twins(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, t: Twins
) -> Client:
    return await opened(await aiohttp_client(create_app(settings, deps=t.deps)))


async def test_ordering_over_http_keeps_the_order_in_the_handed_in_deps(
    on_twins: Client, t: Twins, signin: Signin
) -> None:
    ticket_id = await a_ticket(t)
    keyed: dict[str, Any] = {"headers": {"Idempotency-Key": "k1"}, "cookies": signin()}

    placed = await on_twins.post("/api/orders", json={"ticketId": ticket_id}, **keyed)
    again = await on_twins.post("/api/orders", json={"ticketId": ticket_id}, **keyed)
    listed = await on_twins.get("/api/orders", cookies=keyed["cookies"])

    assert (placed.status, again.status, listed.status) == (201, 201, 200)
    body = await placed.json()
    assert await again.json() == body
    assert await listed.json() == [body]
    assert (body["status"], body["ticket"]["id"]) == ("created", ticket_id)
    assert t.routing_keys() == ["order.created"]


async def test_a_missing_ticket_id_is_a_400_in_the_standard_shape(
    on_twins: Client, signin: Signin
) -> None:
    response = await on_twins.post("/api/orders", json={}, cookies=signin())

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "TicketId must be provided", "field": "ticketId"}]
    }
