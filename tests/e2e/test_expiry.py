"""An unpaid order runs out (a 3-second hold): the ticket is for sale again and the
order can no longer be paid (spec §18.3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deploy.local.stack import Stack
from shared.testing.poll import eventually
from tests.e2e.conftest import SHORT_HOLD_S, Person, PersonFactory

# The hold, then the expiry job, orders and tickets each reacting to an event.
EXPIRY_TIMEOUT_S = SHORT_HOLD_S + 10

Hold = tuple[Person, Any, Any]  # the buyer, the ticket, the order (as the APIs return them)


async def an_order_on_hold(stack: Stack, someone: PersonFactory, title: str) -> Hold:
    """A buyer's order for a ticket someone else has just put up for sale."""
    seller, buyer = await someone(stack), await someone(stack)
    ticket = await seller.sell(title)
    order = await buyer.order_when_known(ticket["id"])
    return buyer, ticket, order


async def expired(buyer: Person, order_id: str) -> None:
    await buyer.order_reaches(order_id, "cancelled", timeout_s=EXPIRY_TIMEOUT_S)


async def listed_again(person: Person, ticket_id: str) -> None:
    async def listed() -> bool:
        return ticket_id in await person.listed_ids()

    await eventually(listed, timeout_s=EXPIRY_TIMEOUT_S, interval_s=0.1, what="the ticket back")


async def test_an_unpaid_order_expires_and_its_ticket_is_for_sale_again(
    short_hold_stack: Stack, someone: PersonFactory
) -> None:
    buyer, ticket, order = await an_order_on_hold(short_hold_stack, someone, "Short hold")

    await expired(buyer, order["id"])
    await listed_again(buyer, ticket["id"])

    assert await buyer.order_status(order["id"]) == "cancelled"


async def test_paying_after_the_hold_ran_out_is_refused(
    short_hold_stack: Stack, someone: PersonFactory
) -> None:
    buyer, ticket, order = await an_order_on_hold(short_hold_stack, someone, "Too late")
    await expired(buyer, order["id"])
    await listed_again(buyer, ticket["id"])  # order.cancelled is out: payments has it too

    response = await buyer.pay(order["id"])

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Cannot pay for an cancelled order"}]}


async def test_an_unpaid_order_frees_its_ticket_within_a_second_of_expiring(
    short_hold_stack: Stack, someone: PersonFactory
) -> None:
    buyer, ticket, order = await an_order_on_hold(short_hold_stack, someone, "Prompt expiry")
    expires_at = datetime.fromisoformat(order["expiresAt"])

    async def unlisted() -> bool:
        return ticket["id"] not in await buyer.listed_ids()

    await eventually(unlisted, what="tickets to hear of the reservation")
    await listed_again(buyer, ticket["id"])

    # expiresAt -> arq job -> expiration.complete -> orders -> order.cancelled -> tickets.
    freed_after_s = (datetime.now(UTC) - expires_at).total_seconds()
    assert freed_after_s <= 1.0, f"the ticket came back {freed_after_s:.2f} s after expiresAt"
    assert await buyer.order_status(order["id"]) == "cancelled"


async def test_a_paid_order_outlives_its_hold_and_keeps_its_ticket(
    short_hold_stack: Stack, someone: PersonFactory
) -> None:
    buyer, ticket, order = await an_order_on_hold(short_hold_stack, someone, "Paid in time")
    payment = await buyer.pay_when_known(order["id"])
    assert payment.status == 201, await payment.text()
    # The barrier, instead of sleeping past the hold: an order placed after the paid one
    # and left unpaid. Its hold ends later, so its expiry job fires later and its
    # expiration.complete reaches orders' queue behind the paid order's. Once orders has
    # cancelled it, it has handled the paid order's expiry too; once its ticket is listed
    # again, tickets has seen any order.cancelled orders sent before.
    other_buyer, marker_ticket, marker = await an_order_on_hold(
        short_hold_stack, someone, "Unpaid later"
    )
    later = datetime.fromisoformat(marker["expiresAt"])
    assert later > datetime.fromisoformat(order["expiresAt"])
    await expired(other_buyer, marker["id"])
    await listed_again(other_buyer, marker_ticket["id"])

    assert await buyer.order_status(order["id"]) == "complete"
    assert ticket["id"] not in await buyer.listed_ids()
