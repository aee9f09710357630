"""The safety net: overdue `created` orders are cancelled even if no expiry ever arrives."""

from dataclasses import replace
from datetime import timedelta

import pytest

from services.orders import service
from services.orders.config import OrderSettings
from services.orders.service import Deps
from services.orders.tests.conftest import (
    Client,
    place_order,
    replicate_ticket,
    stored_order,
)
from shared.events import OrderCancelled, OrderStatus
from shared.testing.events import EventTap
from shared.testing.fixtures import Signin


async def test_the_sweep_cancels_only_orders_overdue_beyond_the_grace(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> None:
    overdue = await place_order(client, signin(), await replicate_ticket(deps))
    paid = await place_order(client, signin(), await replicate_ticket(deps))
    await service.complete_order(paid["id"], deps=deps)
    tomorrow = replace(deps, clock=lambda: deps.clock() + timedelta(days=1))
    fresh = await service.place_order(
        service.PlaceOrder(await replicate_ticket(deps)), "buyer", deps=tomorrow
    )
    later = replace(deps, clock=lambda: deps.clock() + timedelta(seconds=deps.hold_s + 30))

    cancelled = await service.cancel_overdue(deps=later, grace_s=20)

    assert cancelled == 1
    assert (await stored_order(deps, overdue["id"])).status == OrderStatus.CANCELLED
    assert (await stored_order(deps, paid["id"])).status == OrderStatus.COMPLETE
    assert (await stored_order(deps, fresh.id)).status == OrderStatus.CREATED
    await events.wait_for(OrderCancelled, lambda e: e.id == overdue["id"])


async def test_an_order_within_the_grace_is_left_to_the_expiration_service(
    client: Client, signin: Signin, deps: Deps
) -> None:
    order = await place_order(client, signin(), await replicate_ticket(deps))
    just_expired = replace(deps, clock=lambda: deps.clock() + timedelta(seconds=deps.hold_s + 5))

    assert await service.cancel_overdue(deps=just_expired, grace_s=60) == 0
    assert (await stored_order(deps, order["id"])).status == OrderStatus.CREATED


@pytest.fixture
def order_settings() -> OrderSettings:
    return OrderSettings(expiration_s=1, sweep_interval_s=0.2, sweep_grace_s=0)


async def test_the_running_service_sweeps_on_its_own(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> None:
    ticket_id = await replicate_ticket(deps)
    order = await place_order(client, signin(), ticket_id)

    event = await events.wait_for(OrderCancelled, lambda e: e.id == order["id"], timeout_s=5)

    assert event.ticket.id == ticket_id
    assert (await stored_order(deps, order["id"])).status == OrderStatus.CANCELLED
    assert (await place_order(client, signin(), ticket_id))["status"] == OrderStatus.CREATED
