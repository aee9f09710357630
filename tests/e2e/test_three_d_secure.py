"""Paying with a card that asks for 3-D Secure, in headless Chromium through nginx: the
buyer sees the bank's challenge (the Stripe emulator's), answers it, and the order ends
complete; or fails it, is told so, is not charged, and pays with another card.

Two ways there, as the order page has two: the offline test-card form (a redirect to the
bank and back), and Stripe's Payment Element with a ConfirmationToken and
``stripe.handleNextAction`` (here the emulator's Stripe.js stand-in, on a stack of its
own that has a publishable key)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import stripe
from playwright.async_api import Page, expect

from deploy.local.stack import Stack, running_stack
from shared.testing.money import at_stripe, money_violations
from shared.testing.poll import eventually
from shared.testing.services import free_port
from stripe_emulator.config import DEFAULT_PORT as STRIPE_EMULATOR_PORT
from tests.e2e.conftest import PersonFactory, Screenshots, stack_env, ticket_orders_knows
from tests.e2e.test_browser import sign_up
from tests.e2e.test_money import observer
from tools.chaos.stack import free_port_offset

AUTHENTICATION_FAILED = (
    "We are unable to authenticate your payment method. Please choose a different payment "
    "method and try again."
)


@pytest.fixture(scope="module")
def stripe_js_stack(amqp_url: str) -> Iterator[Stack]:
    """A stack whose order page uses the Payment Element: Stripe.js from its emulator."""
    offset = free_port_offset()
    emulator = f"http://127.0.0.1:{STRIPE_EMULATOR_PORT + offset}"
    env = stack_env(
        amqp_url, STRIPE_PUBLISHABLE_KEY="pk_test_emulator", STRIPE_JS_URL=f"{emulator}/v3/"
    )
    with running_stack(free_port(), env=env, port_offset=offset) as stack:
        yield stack


async def an_order_page(
    stack: Stack, someone: PersonFactory, page: Page, shots: Screenshots, title: str
) -> str:
    """The buyer signed up in the browser, on the page of their new order for a ticket
    called ``title``, once payments has heard of the order; the order's id."""
    seller, prober = await someone(stack), await someone(stack)
    ticket = await ticket_orders_knows(seller, prober, title, 12.5)
    await page.goto(stack.url)
    await sign_up(page, shots, "buyer")
    await page.goto(f"{stack.url}/tickets/{ticket['id']}")
    await page.get_by_role("button", name="Purchase").click()
    await expect(page).to_have_url(re.compile(r"/orders/[0-9a-f]{24}$"))
    order_id = page.url.rsplit("/", 1)[1]

    async def payments_knows() -> bool:
        found = await page.request.get(f"{stack.url}/api/payments?orderId={order_id}")
        return found.status == 200

    await eventually(payments_knows, what=f"payments to know order {order_id}")
    return order_id


async def ends(stack: Stack, someone: PersonFactory, order_id: str, status: str) -> None:
    """Stripe's own view of the order's money meets the promise for ``status``."""
    person = await someone(stack)
    stripe_client = await observer(stack, person.http)
    await eventually(
        lambda: _money_right(stripe_client, order_id, status),
        what=f"order {order_id}'s money right for {status}",
    )


async def _money_right(stripe_client: stripe.StripeClient, order_id: str, status: str) -> bool:
    return money_violations(status, await at_stripe(stripe_client, order_id)) == []


async def test_the_3ds_test_card_pays_after_the_bank_s_challenge(
    stack: Stack, someone: PersonFactory, phone: Page, screenshots: Screenshots
) -> None:
    page, shots = phone, screenshots
    title = f"3DS gig {uuid.uuid4().hex[:6]}"
    order_id = await an_order_page(stack, someone, page, shots, title)

    await page.get_by_label("Visa 4000 0027 6000 3184 (asks for 3-D Secure)").check()
    await page.get_by_role("button", name="Pay $12.50").click()
    await expect(page.get_by_text("Nothing has been charged yet.")).to_be_visible()
    await shots.take(page, "bank-asks")
    await page.get_by_role("link", name="Continue to your bank").click()
    await expect(page.get_by_role("heading", name="3D Secure 2 Test Page")).to_be_visible()
    await shots.take(page, "challenge")
    await page.get_by_role("button", name="Complete").click()

    await expect(page).to_have_url(f"{stack.url}/orders")
    await expect(page.get_by_role("listitem").filter(has_text=title)).to_have_text(
        f"{title} - complete"
    )
    await shots.take(page, "my-orders")
    await ends(stack, someone, order_id, "complete")


async def test_a_failed_challenge_charges_nothing_says_why_and_another_card_pays(
    stack: Stack, someone: PersonFactory, phone: Page, screenshots: Screenshots
) -> None:
    page, shots = phone, screenshots
    title = f"3DS fail {uuid.uuid4().hex[:6]}"
    order_id = await an_order_page(stack, someone, page, shots, title)
    await page.get_by_label("Visa 4000 0027 6000 3184 (asks for 3-D Secure)").check()
    await page.get_by_role("button", name="Pay $12.50").click()
    await page.get_by_role("link", name="Continue to your bank").click()

    await page.get_by_role("button", name="Fail").click()

    await expect(page.get_by_role("alert")).to_contain_text(AUTHENTICATION_FAILED)
    await expect(page.get_by_text(re.compile(r"Time left to pay: \d+ seconds"))).to_be_visible()
    await shots.take(page, "challenge-failed")
    stripe_client = await observer(stack, (await someone(stack)).http)
    assert (await at_stripe(stripe_client, order_id)).kept == []
    await page.get_by_label("Visa 4242 4242 4242 4242 (pays)").check()
    await page.get_by_role("button", name="Pay $12.50").click()
    await expect(page).to_have_url(f"{stack.url}/orders")
    await expect(page.get_by_role("listitem").filter(has_text=title)).to_have_text(
        f"{title} - complete"
    )
    await shots.take(page, "paid-with-another-card")
    await ends(stack, someone, order_id, "complete")


async def test_the_payment_element_shows_the_challenge_on_the_page_and_then_pays(
    stripe_js_stack: Stack, someone: PersonFactory, phone: Page, screenshots: Screenshots
) -> None:
    page, shots = phone, screenshots
    stack = stripe_js_stack
    title = f"3DS element {uuid.uuid4().hex[:6]}"
    order_id = await an_order_page(stack, someone, page, shots, title)

    await page.get_by_label("Card number").fill("4000 0027 6000 3184")
    await shots.take(page, "payment-element")
    await page.get_by_role("button", name="Pay $12.50").click()
    challenge = page.get_by_role("dialog", name="3D Secure 2 Test Page")
    await expect(challenge).to_be_visible()
    await shots.take(page, "challenge-on-the-page")
    await challenge.get_by_role("button", name="Complete").click()

    await expect(page).to_have_url(f"{stack.url}/orders")
    await expect(page.get_by_role("listitem").filter(has_text=title)).to_have_text(
        f"{title} - complete"
    )
    await shots.take(page, "my-orders")
    await ends(stack, someone, order_id, "complete")


async def test_a_challenge_failed_on_the_page_says_why_and_the_form_is_back(
    stripe_js_stack: Stack, someone: PersonFactory, phone: Page, screenshots: Screenshots
) -> None:
    page, shots = phone, screenshots
    stack = stripe_js_stack
    order_id = await an_order_page(stack, someone, page, shots, f"3DS x {uuid.uuid4().hex[:6]}")
    await page.get_by_label("Card number").fill("4000 0027 6000 3184")
    await page.get_by_role("button", name="Pay $12.50").click()

    await page.get_by_role("dialog").get_by_role("button", name="Fail").click()

    await expect(page.get_by_role("alert")).to_contain_text(AUTHENTICATION_FAILED)
    await expect(page.get_by_label("Card number")).to_be_visible()
    await shots.take(page, "challenge-failed")
    await page.get_by_label("Card number").fill("4242 4242 4242 4242")
    await page.get_by_role("button", name="Pay $12.50").click()
    await expect(page).to_have_url(f"{stack.url}/orders")
    await ends(stack, someone, order_id, "complete")
