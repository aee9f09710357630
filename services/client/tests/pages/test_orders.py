"""The order page (countdown, pay form, payment) and My Orders (spec §12.3)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import urlsplit

import aiohttp
import stripe

from deploy.local.stack import Stack
from services.client.bootstrap import create_service
from services.client.config import Settings
from services.client.tests.conftest import Client, Cookies, Page, Platform, page, pay
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually

# How long a payment or a refund may take to show, through events and Stripe, on a loaded
# machine: a bound for the wait, not a figure anyone is promised.
SETTLED_S = 30.0


async def test_the_order_page_counts_down_the_hold_and_offers_the_test_cards(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller, title="Jazz", price=7.5)
    order = await platform.place_order(buyer, ticket["id"])

    response = await client.get(f"/orders/{order['id']}", cookies=buyer)

    html = await response.text()
    shown = await page(response)
    assert response.status == 200
    assert re.search(r"Jazz Price: 7.50 Time left to pay: (899|900) seconds", shown.text)
    assert 'value="pm_card_visa" checked' in html
    assert 'value="pm_card_chargeDeclined"' in html
    assert "Pay $7.50" in shown.text
    assert '<script src="/static/js/countdown.js" defer></script>' in html
    assert "js.stripe.com" not in html


async def test_paying_with_the_test_card_goes_to_my_orders_which_says_complete(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller, title="Symphony")
    order = await platform.place_order(buyer, ticket["id"])

    response = await pay(client, buyer, order["id"], "pm_card_visa")

    assert response.status == 303
    assert response.headers["Location"] == "/orders"

    # The client waits a little for orders to hear of the payment (an event away), then
    # shows My Orders as it is: "complete" is the promise, right away is not.
    async def complete() -> Page | None:
        shown = await page(await client.get("/orders", cookies=buyer))
        return shown if "Symphony - complete" in shown.text else None

    await eventually(complete, timeout_s=SETTLED_S, what="My Orders saying complete")
    paid = await page(await client.get(f"/orders/{order['id']}", cookies=buyer))
    assert "Paid" in paid.text
    assert "Time left to pay" not in paid.text


async def test_a_declined_card_shows_stripes_message_and_the_form_again(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller)
    order = await platform.place_order(buyer, ticket["id"])

    response = await pay(client, buyer, order["id"], "pm_card_chargeDeclined")

    shown = await page(response)
    assert response.status == 402
    assert shown.alerts == ["Your card was declined."]
    assert "Time left to pay" in shown.text


async def test_my_orders_has_one_line_per_order_with_its_status(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    for title in ("Rock", "Pop"):
        ticket = await platform.sell(seller, title=title)
        await platform.place_order(buyer, ticket["id"])

    response = await client.get("/orders", cookies=buyer)

    shown = await page(response)
    assert response.status == 200
    lines = [text for text, href in shown.links if href.startswith("/orders/")]
    assert sorted(lines) == ["Pop - created", "Rock - created"]


async def test_a_visitor_is_sent_to_sign_in_for_orders(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller)
    order = await platform.place_order(buyer, ticket["id"])

    for path in ("/orders", f"/orders/{order['id']}"):
        response = await client.get(path, allow_redirects=False)

        assert response.status == 303
        assert response.headers["Location"] == "/auth/signin"


async def test_someone_elses_order_is_not_found(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies, signin: Signin
) -> None:
    ticket = await platform.sell(seller)
    order = await platform.place_order(buyer, ticket["id"])

    response = await client.get(f"/orders/{order['id']}", cookies=signin())

    assert response.status == 404
    assert "Page not found" in (await page(response)).text


async def test_with_a_publishable_key_the_order_page_uses_stripes_payment_element(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    platform: Platform,
    seller: Cookies,
    buyer: Cookies,
) -> None:
    stripe_client = await aiohttp_client(
        create_service(replace(settings, stripe_publishable_key="pk_test_123"))
    )
    ticket = await platform.sell(seller, price=12.5)
    order = await platform.place_order(buyer, ticket["id"])

    response = await stripe_client.get(f"/orders/{order['id']}", cookies=buyer)

    html = await response.text()
    assert '<script src="https://js.stripe.com/v3/"></script>' in html
    assert 'data-stripe-key="pk_test_123"' in html
    assert 'data-amount-cents="1250"' in html
    assert "pm_card_visa" not in html
    assert "https://js.stripe.com" in response.headers["Content-Security-Policy"]


async def test_a_paid_orders_page_lists_its_payment(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller)
    order = await platform.place_order(buyer, ticket["id"])
    assert (await pay(client, buyer, order["id"])).status == 303

    async def listed() -> Page | None:  # once orders has heard of the payment (an event)
        shown = await page(await client.get(f"/orders/{order['id']}", cookies=buyer))
        return shown if "Payments Paid." in shown.text else None

    assert await eventually(listed, timeout_s=SETTLED_S, what="the payment on the order page")


async def test_money_taken_for_a_cancelled_order_shows_refunded_and_why(
    client: Client, stack: Stack, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller)
    order = await platform.place_order(buyer, ticket["id"])
    async with aiohttp.ClientSession(cookies=buyer) as http:
        cancelled = await http.delete(f"{platform.url}/api/orders/{order['id']}")
        assert cancelled.status == 204
        # Stripe takes money for the order anyway (a payment that lost the race), and
        # tells payments through its webhook.
        stripe_client = stripe.StripeClient(
            "sk_test_late",
            base_addresses={"api": f"http://127.0.0.1:{stack.stripe_emulator.port}"},
            http_client=stripe.AIOHTTPClient(session=http),
        )
        intent = await stripe_client.v1.payment_intents.create_async(
            params={"amount": 2000, "currency": "usd", "metadata": {"order_id": order["id"]}}
        )
        await stripe_client.v1.payment_intents.confirm_async(
            intent.id, params={"payment_method": "pm_card_visa"}
        )

    async def refunded() -> Page | None:
        shown = await page(await client.get(f"/orders/{order['id']}", cookies=buyer))
        return shown if "Refunded in full" in shown.text else None

    # Two events and a refund at Stripe, which payments retries after 1, 2, 4 s if it fails.
    shown = await eventually(refunded, timeout_s=SETTLED_S, what="the refund on the order page")
    assert (
        "Order Cancelled Payments Refunded in full: the order was cancelled before the "
        "payment reached it." in shown.text
    )


async def through_the_bank(shown: Page, outcome: str) -> str:
    """Follow the page's link to the bank's challenge and answer it, as the buyer's
    browser would; the path (and query) of our page the bank sends it back to."""
    [bank] = [href for text, href in shown.links if text == "Continue to your bank"]
    async with aiohttp.ClientSession() as browser:
        challenge = await browser.get(bank)
        assert "3D Secure 2 Test Page" in await challenge.text()
        answered = await browser.post(bank, data={"outcome": outcome}, allow_redirects=False)
        assert answered.status == 303
    back = urlsplit(answered.headers["Location"])
    return f"{back.path}?{back.query}"


async def test_a_card_that_asks_for_3ds_is_paid_after_the_bank_s_challenge(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller, title="Opera")
    order = await platform.place_order(buyer, ticket["id"])

    asked = await pay(client, buyer, order["id"], "pm_card_threeDSecure2Required")
    shown = await page(asked)
    back = await through_the_bank(shown, "complete")
    landed = await client.get(back, cookies=buyer, allow_redirects=False)

    assert asked.status == 200
    assert "Nothing has been charged yet." in shown.text
    assert back.startswith(f"/orders/{order['id']}/authenticated?payment_intent=")
    assert landed.status == 303
    assert landed.headers["Location"] == "/orders"
    my_orders = await page(await client.get("/orders", cookies=buyer))
    assert "Opera - complete" in my_orders.text


async def test_a_failed_3ds_challenge_says_so_and_a_normal_card_then_pays(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller, title="Ballet")
    order = await platform.place_order(buyer, ticket["id"])
    shown = await page(await pay(client, buyer, order["id"], "pm_card_threeDSecure2Required"))

    back = await through_the_bank(shown, "fail")
    refused = await client.get(back, cookies=buyer)
    retried = await pay(client, buyer, order["id"], "pm_card_visa")

    assert refused.status == 402
    assert (await page(refused)).alerts == [
        "We are unable to authenticate your payment method. Please choose a different "
        "payment method and try again."
    ]
    assert retried.status == 303
    my_orders = await page(await client.get("/orders", cookies=buyer))
    assert "Ballet - complete" in my_orders.text
