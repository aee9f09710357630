"""The money invariant through the whole stack, whichever of cancel, expiry, the
synchronous confirm, the webhook or a second payment comes first: every order ends
``complete`` with exactly one kept charge at Stripe, or ``cancelled`` with every charge
refunded. Each test races the two sides and then checks Stripe's own view."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import stripe

from deploy.local.stack import Stack
from shared.testing.money import at_stripe, money_violations
from shared.testing.poll import eventually
from tests.e2e.conftest import SHORT_HOLD_S, Person, PersonFactory

RACES = 6  # orders raced at once: enough for both sides to win some
SETTLE_TIMEOUT_S = SHORT_HOLD_S + 20


async def observer(stack: Stack, http: aiohttp.ClientSession) -> stripe.StripeClient:
    """An SDK client on the stack's Stripe emulator, to read Stripe's own view."""
    return stripe.StripeClient(
        "sk_test_observer",
        base_addresses={"api": f"http://127.0.0.1:{stack.stripe_emulator.port}"},
        http_client=stripe.AIOHTTPClient(session=http),
        max_network_retries=0,
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def payments_of(buyer: Person, order_id: str) -> aiohttp.ClientResponse:
    return await buyer.http.get(f"{buyer.url}/api/payments", params={"orderId": order_id})


async def payments_know(buyer: Person, order_id: str) -> None:
    """Wait until payments has the order (its replica), so a payment can race a cancel."""

    async def known() -> bool:
        return (await payments_of(buyer, order_id)).status == 200

    await eventually(known, interval_s=0.05, what=f"payments to know order {order_id}")


async def assert_money_is_right(
    buyer: Person, order_id: str, stripe_client: stripe.StripeClient
) -> str:
    """Wait for the saga to end with the invariant holding; the order's final status.

    It ends when the order is complete or cancelled, Stripe's view meets the money
    invariant, and payments' records say what Stripe says (the charges payments keeps are
    the ones Stripe has not refunded, and it knows every charge Stripe took). Until then a
    step is still on its way (an event, a webhook, a refund); a saga that never gets
    there fails the test with what it last saw.
    """
    seen: list[str] = []

    async def over() -> str | None:
        status = await buyer.order_status(order_id)
        view = await at_stripe(stripe_client, order_id)
        records = await (await payments_of(buyer, order_id)).json()
        taken = {c.intent_id for c in view.charges if c.status == "succeeded"}
        kept = {r["stripeId"] for r in records if r["status"] == "succeeded"}
        given_back = {r["stripeId"] for r in records if r["status"] == "refunded"}
        seen[:] = money_violations(status, view)
        if kept != {c.intent_id for c in view.kept} or kept | given_back != taken:
            seen.append(f"payments' records {records} disagree with Stripe's {view}")
        return None if seen else status

    try:
        final: str = await eventually(
            over, timeout_s=SETTLE_TIMEOUT_S, interval_s=0.1, what=f"order {order_id} settled"
        )
    except AssertionError:
        raise AssertionError(f"order {order_id} never settled right: {seen}") from None
    return final


async def an_order(seller: Person, buyer: Person) -> Any:
    """The buyer's fresh order for the seller's new ticket, known to payments."""
    ticket = await seller.sell()
    order = await buyer.order_when_known(ticket["id"])
    await payments_know(buyer, order["id"])
    return order


async def one_order(
    stack: Stack, someone: PersonFactory, http: aiohttp.ClientSession
) -> tuple[stripe.StripeClient, Person, Any]:
    """An observer of the stack's Stripe, a buyer, and their fresh order."""
    seller, buyer = await someone(stack), await someone(stack)
    return await observer(stack, http), buyer, await an_order(seller, buyer)


async def raced_orders(stack: Stack, someone: PersonFactory) -> list[tuple[Person, Any]]:
    """``RACES`` orders at once, by two buyers (sign-ups are rate-limited at the gateway)."""
    seller, *buyers = [await someone(stack) for _ in range(3)]
    people = [buyers[i % len(buyers)] for i in range(RACES)]
    orders = await asyncio.gather(*(an_order(seller, buyer) for buyer in people))
    return list(zip(people, orders, strict=True))


async def test_cancel_against_pay_keeps_the_money_only_for_a_complete_order(
    stack: Stack, someone: PersonFactory, http: aiohttp.ClientSession
) -> None:
    stripe_client = await observer(stack, http)
    orders = await raced_orders(stack, someone)

    async def race(buyer: Person, order: Any) -> tuple[int, int]:
        cancel, pay = await asyncio.gather(
            buyer.http.delete(f"{buyer.url}/api/orders/{order['id']}"), buyer.pay(order["id"])
        )
        return cancel.status, pay.status

    answers = await asyncio.gather(*(race(buyer, order) for buyer, order in orders))

    finals = [await assert_money_is_right(b, o["id"], stripe_client) for b, o in orders]
    for (cancel, pay), final in zip(answers, finals, strict=True):
        assert (cancel in (204, 400), pay in (201, 400)) == (True, True), (cancel, pay)
        if cancel == 400:  # refused: the order was paid first
            assert (pay, final) == (201, "complete")


async def test_expiry_against_pay_keeps_the_money_only_for_a_complete_order(
    short_hold_stack: Stack, someone: PersonFactory, http: aiohttp.ClientSession
) -> None:
    stripe_client = await observer(short_hold_stack, http)
    orders = await raced_orders(short_hold_stack, someone)

    async def pay_around_expiry(buyer: Person, order: Any, offset_s: float) -> int:
        expires_at = datetime.fromisoformat(order["expiresAt"].replace("Z", "+00:00"))
        # Positions the payment around the moment the hold runs out; it asserts nothing.
        await asyncio.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds() + offset_s))
        return (await buyer.pay(order["id"])).status

    offsets = [-0.3, -0.15, 0.0, 0.1, 0.2, 0.4]
    statuses = await asyncio.gather(
        *(pay_around_expiry(b, o, dt) for (b, o), dt in zip(orders, offsets, strict=True))
    )

    assert set(statuses) <= {201, 400}, statuses
    for buyer, order in orders:
        await assert_money_is_right(buyer, order["id"], stripe_client)


async def test_two_payments_with_different_cards_keep_one_charge(
    stack: Stack, someone: PersonFactory, http: aiohttp.ClientSession
) -> None:
    stripe_client, buyer, order = await one_order(stack, someone, http)

    first, second = await asyncio.gather(
        buyer.pay(order["id"], "pm_card_visa"), buyer.pay(order["id"], "tok_mastercard")
    )

    assert sorted([first.status, second.status]) in ([201, 201], [201, 400])
    assert await assert_money_is_right(buyer, order["id"], stripe_client) == "complete"


async def test_a_declined_card_then_a_good_one_keeps_one_charge(
    stack: Stack, someone: PersonFactory, http: aiohttp.ClientSession
) -> None:
    stripe_client, buyer, order = await one_order(stack, someone, http)

    declined = await buyer.pay(order["id"], "pm_card_chargeDeclined")
    paid = await buyer.pay(order["id"], "pm_card_visa")

    assert (declined.status, paid.status) == (402, 201)
    assert await assert_money_is_right(buyer, order["id"], stripe_client) == "complete"


async def test_paying_after_expiry_keeps_nothing(
    short_hold_stack: Stack, someone: PersonFactory, http: aiohttp.ClientSession
) -> None:
    stripe_client, buyer, order = await one_order(short_hold_stack, someone, http)
    await buyer.order_reaches(order["id"], "cancelled", timeout_s=SETTLE_TIMEOUT_S)

    response = await buyer.pay(order["id"])

    # Refused whether or not payments has heard of the cancellation: it knows the hold.
    assert response.status == 400
    assert await assert_money_is_right(buyer, order["id"], stripe_client) == "cancelled"
