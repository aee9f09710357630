"""Buying a ticket end to end through nginx: every service, RabbitMQ, Redis and the
Stripe emulator in play (spec §18.2)."""

from __future__ import annotations

import asyncio

from deploy.local.stack import Stack
from tests.e2e.conftest import PersonFactory, ticket_orders_knows


async def test_a_paid_ticket_is_the_buyers_and_stays_off_the_list(
    stack: Stack, someone: PersonFactory
) -> None:
    seller, buyer = await someone(stack), await someone(stack)
    ticket = await seller.sell("The Big Concert", 25)

    order = await buyer.order_when_known(ticket["id"])
    paid = await buyer.pay_when_known(order["id"])

    assert order["status"] == "created"
    assert (order["ticket"]["id"], order["ticket"]["price"]) == (ticket["id"], 25)
    assert paid.status == 201, await paid.text()
    assert set(await paid.json()) == {"id"}

    await buyer.order_reaches(order["id"], "complete")
    assert ticket["id"] not in await buyer.listed_ids()


async def test_two_buyers_racing_for_one_ticket_get_one_order(
    stack: Stack, someone: PersonFactory
) -> None:
    seller, first, second = await someone(stack), await someone(stack), await someone(stack)
    ticket = await ticket_orders_knows(seller, prober=first)

    responses = await asyncio.gather(first.order(ticket["id"]), second.order(ticket["id"]))

    assert sorted(r.status for r in responses) == [201, 400]
    [refused] = [r for r in responses if r.status == 400]
    assert await refused.json() == {"errors": [{"message": "Ticket is already reserved"}]}
