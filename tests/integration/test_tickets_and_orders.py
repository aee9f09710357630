"""Tickets and orders kept consistent by events through real RabbitMQ (spec §11, §14.7)."""

from __future__ import annotations

import asyncio
from typing import Any

from bson import ObjectId

from services.orders.domain import Ticket
from shared.events import OrderCreated, PaymentCreated, TicketUpdated
from shared.messaging import AmqpSettings
from shared.testing.events import EventTap, event_publisher
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually, when_known
from tests.integration.conftest import Orders, Tickets


async def sell(tickets: Tickets, seller: dict[str, str], price: Any = 20) -> dict[str, Any]:
    response = await tickets.client.post(
        "/api/tickets", json={"title": "concert", "price": price}, cookies=seller
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def order(orders: Orders, buyer: dict[str, str], ticket_id: str) -> dict[str, Any]:
    """Order the ticket as soon as orders has heard of it."""
    response = await when_known(
        lambda: orders.client.post("/api/orders", json={"ticketId": ticket_id}, cookies=buyer),
        what=f"an order for {ticket_id}",
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def listed_ids(tickets: Tickets) -> set[str]:
    response = await tickets.client.get("/api/tickets")
    return {t["id"] for t in await response.json()}


async def is_listed(tickets: Tickets, ticket_id: str) -> bool:
    return ticket_id in await listed_ids(tickets)


async def is_unlisted(tickets: Tickets, ticket_id: str) -> bool:
    return not await is_listed(tickets, ticket_id)


async def orders_replica(orders: Orders, ticket_id: str) -> Ticket | None:
    """The ticket as orders' replica holds it now."""
    async with orders.deps.uow() as tx:
        return await tx.tickets.get(ticket_id)


async def replica_at(orders: Orders, ticket_id: str, version: int) -> bool:
    replica = await orders_replica(orders, ticket_id)
    return replica is not None and replica.version == version


async def test_an_ordered_ticket_leaves_the_list_and_comes_back_when_cancelled(
    tickets: Tickets, orders: Orders, signin: Signin
) -> None:
    seller, buyer = signin(), signin()
    ticket = await sell(tickets, seller)

    placed = await order(orders, buyer, ticket["id"])

    await eventually(lambda: is_unlisted(tickets, ticket["id"]), what="the ticket off the list")
    shown = await (await tickets.client.get(f"/api/tickets/{ticket['id']}")).json()
    assert shown["orderId"] == placed["id"]
    edit = await tickets.client.put(
        f"/api/tickets/{ticket['id']}", json={"title": "x", "price": 5}, cookies=seller
    )
    assert edit.status == 400
    assert await edit.json() == {"errors": [{"message": "Cannot edit a reserved ticket"}]}

    cancel = await orders.client.delete(f"/api/orders/{placed['id']}", cookies=buyer)

    assert cancel.status == 204
    await eventually(lambda: is_listed(tickets, ticket["id"]), what="the ticket listed")
    shown = await (await tickets.client.get(f"/api/tickets/{ticket['id']}")).json()
    assert "orderId" not in shown
    assert shown["version"] == 2  # reserved, then released
    # The replica follows every version, reservation included.
    await eventually(lambda: replica_at(orders, ticket["id"], 2), what="replica at v2")


async def test_a_paid_order_keeps_its_ticket_off_the_list_and_cannot_be_cancelled(
    tickets: Tickets, orders: Orders, signin: Signin, amqp: AmqpSettings
) -> None:
    buyer = signin()
    ticket = await sell(tickets, signin())
    placed = await order(orders, buyer, ticket["id"])

    async def off_the_list() -> bool:
        return ticket["id"] not in await listed_ids(tickets)

    # tickets hears of the order through order.created, a moment after orders answers.
    await eventually(off_the_list, what="the reserved ticket off the list")
    async with event_publisher(amqp) as publisher:
        await publisher.publish_event(
            PaymentCreated(id=str(ObjectId()), order_id=placed["id"], stripe_id="pi_1")
        )

    async def completed() -> bool:
        response = await orders.client.get(f"/api/orders/{placed['id']}", cookies=buyer)
        body = await response.json()
        return bool(body["status"] == "complete")

    await eventually(completed, what="the order complete")
    cancel = await orders.client.delete(f"/api/orders/{placed['id']}", cookies=buyer)
    assert cancel.status == 400
    assert ticket["id"] not in await listed_ids(tickets)


async def test_concurrent_repricing_leaves_both_services_at_the_last_price(
    tickets: Tickets, orders: Orders, signin: Signin
) -> None:
    """Spec §14.7 in small: create at 5, update to 10 then 15, many tickets at once."""
    seller = signin()
    count = 20

    async def reprice() -> str:
        ticket = await sell(tickets, seller, price=5)
        for price in (10, 15):
            response = await tickets.client.put(
                f"/api/tickets/{ticket['id']}",
                json={"title": "concert", "price": price},
                cookies=seller,
            )
            assert response.status == 200, await response.text()
        return str(ticket["id"])

    ids = await asyncio.gather(*(reprice() for _ in range(count)))

    async def replica_converged() -> bool:
        replicas = [await orders_replica(orders, i) for i in ids]
        return all(r is not None and r.version == 2 for r in replicas)

    await eventually(replica_converged, timeout_s=30, what="every replica at version 2")
    for ticket_id in ids:
        owned = await tickets.deps.tickets.get(ticket_id)
        replica = await orders_replica(orders, ticket_id)
        assert owned is not None
        assert replica is not None
        assert (owned.price_cents, owned.version) == (1500, 2)
        assert (replica.price_cents, replica.version) == (1500, 2)


async def test_one_request_id_follows_a_purchase_across_services(
    tickets: Tickets, orders: Orders, signin: Signin, events: EventTap
) -> None:
    ticket = await sell(tickets, signin())
    await eventually(lambda: orders_replica(orders, ticket["id"]), what="the replica")

    response = await orders.client.post(
        "/api/orders",
        json={"ticketId": ticket["id"]},
        cookies=signin(),
        headers={"X-Request-Id": "purchase-1"},
    )

    assert response.headers["X-Request-Id"] == "purchase-1"
    placed = await events.wait_for(OrderCreated)
    assert events.headers_of(placed)["x-request-id"] == "purchase-1"
    # Tickets handled order.created under the same id, and its own event carries it on.
    reserved = await events.wait_for(TicketUpdated, lambda e: e.order_id == placed.id)
    assert events.headers_of(reserved)["x-request-id"] == "purchase-1"
