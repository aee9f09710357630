"""DELETE /api/orders/:id: spec §14.4 `delete.test`, plus paid orders and repeats."""

import asyncio

from bson import ObjectId

from services.orders import service
from services.orders.service import Deps
from services.orders.tests.conftest import (
    Client,
    marker_order_announced,
    place_order,
    replicate_ticket,
    stored_order,
)
from shared.events import OrderCancelled, OrderStatus
from shared.testing.events import EventTap, payload
from shared.testing.fixtures import Signin


async def test_marks_an_order_as_cancelled(client: Client, signin: Signin, deps: Deps) -> None:
    buyer = signin()
    order = await place_order(client, buyer, await replicate_ticket(deps))

    response = await client.delete(f"/api/orders/{order['id']}", cookies=buyer)

    assert response.status == 204
    assert await response.read() == b""
    stored = await stored_order(deps, order["id"])
    assert (stored.status, stored.version) == (OrderStatus.CANCELLED, 1)


async def test_emits_an_order_cancelled_event(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> None:
    buyer = signin()
    ticket_id = await replicate_ticket(deps)
    order = await place_order(client, buyer, ticket_id)

    await client.delete(f"/api/orders/{order['id']}", cookies=buyer)

    event = await events.wait_for(OrderCancelled, lambda e: e.id == order["id"])
    assert payload(event) == {"id": order["id"], "version": 1, "ticket": {"id": ticket_id}}


async def test_cancelling_twice_is_harmless(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> None:
    buyer = signin()
    order = await place_order(client, buyer, await replicate_ticket(deps))

    first = await client.delete(f"/api/orders/{order['id']}", cookies=buyer)
    second = await client.delete(f"/api/orders/{order['id']}", cookies=buyer)

    assert (first.status, second.status) == (204, 204)
    await marker_order_announced(client, signin, deps, events)
    assert [e.id for e in events.of(OrderCancelled)] == [order["id"]]
    assert (await stored_order(deps, order["id"])).version == 1


async def test_a_paid_order_cannot_be_cancelled(client: Client, signin: Signin, deps: Deps) -> None:
    buyer = signin()
    order = await place_order(client, buyer, await replicate_ticket(deps))
    await service.complete_order(order["id"], deps=deps)

    response = await client.delete(f"/api/orders/{order['id']}", cookies=buyer)

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "Cannot cancel a complete order: it has been paid for"}]
    }
    assert (await stored_order(deps, order["id"])).status == OrderStatus.COMPLETE


async def test_another_user_cannot_cancel_an_order(
    client: Client, signin: Signin, deps: Deps
) -> None:
    order = await place_order(client, signin(), await replicate_ticket(deps))

    response = await client.delete(f"/api/orders/{order['id']}", cookies=signin())

    assert response.status == 401
    assert (await stored_order(deps, order["id"])).status == "created"


async def test_cancelling_an_unknown_order_is_not_found(client: Client, signin: Signin) -> None:
    response = await client.delete(f"/api/orders/{ObjectId()}", cookies=signin())

    assert response.status == 404


async def test_cancelling_needs_a_signed_in_user(client: Client) -> None:
    response = await client.delete(f"/api/orders/{ObjectId()}")

    assert response.status == 401


async def test_a_cancel_racing_a_payment_ends_either_paid_or_cancelled_never_both(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> None:
    for _ in range(5):
        buyer = signin()
        order = await place_order(client, buyer, await replicate_ticket(deps))

        cancel, _ = await asyncio.gather(
            client.delete(f"/api/orders/{order['id']}", cookies=buyer),
            service.complete_order(order["id"], deps=deps),
        )

        stored = await stored_order(deps, order["id"])
        if stored.status == OrderStatus.COMPLETE:
            assert cancel.status == 400
            assert order["id"] not in {e.id for e in events.of(OrderCancelled)}
        else:
            assert (cancel.status, stored.status, stored.version) == (204, OrderStatus.CANCELLED, 1)
