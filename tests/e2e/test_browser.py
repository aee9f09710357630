"""The web client in headless Chromium, through nginx, on a phone-sized screen (spec §12)."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from deploy.local.stack import Stack
from tests.e2e.conftest import PersonFactory, Screenshots, new_email, ticket_orders_knows

SECONDS_LEFT = re.compile(r"Time left to pay: (\d+) seconds")


async def sign_up(page: Page, shots: Screenshots, name: str) -> None:
    await page.get_by_role("link", name="Sign Up").click()
    await expect(page.get_by_role("heading", name="Sign Up")).to_be_visible()
    await page.get_by_label("Email Address").fill(new_email())
    await page.get_by_label("Password").fill("password")
    await shots.take(page, f"sign-up-{name}")
    await page.get_by_role("button", name="Sign Up").click()
    await expect(page.get_by_role("button", name="Sign Out")).to_be_visible()


async def seconds_left(page: Page) -> int:
    countdown = page.get_by_text(SECONDS_LEFT)
    await expect(countdown).to_be_visible()
    found = SECONDS_LEFT.search(await countdown.inner_text())
    assert found is not None
    return int(found[1])


async def test_a_seller_lists_a_ticket_and_a_buyer_buys_it(
    stack: Stack, phone: Page, screenshots: Screenshots
) -> None:
    page, shots = phone, screenshots
    title = f"Browser gig {uuid.uuid4().hex[:6]}"

    await page.goto(stack.url)
    await expect(page.get_by_role("heading", name="Tickets")).to_be_visible()
    await shots.take(page, "tickets-signed-out")

    # The seller signs up and sells a ticket; the price is tidied when it loses focus.
    await sign_up(page, shots, "seller")
    await shots.take(page, "tickets-seller")
    await page.get_by_role("link", name="Sell Tickets").click()
    await page.get_by_label("Title").fill(title)
    await page.get_by_label("Price").fill("12.5")
    await page.get_by_label("Title").focus()
    await expect(page.get_by_label("Price")).to_have_value("12.50")
    await shots.take(page, "sell-ticket")
    await page.get_by_role("button", name="Submit").click()
    row = page.get_by_role("row").filter(has_text=title)
    await expect(row).to_contain_text("12.50")
    await shots.take(page, "tickets-with-the-new-one")
    # Signing out is a form (POST, with its CSRF token), shown as the header's last entry.
    await page.get_by_role("button", name="Sign Out").click()
    await expect(page.get_by_role("link", name="Sign In")).to_be_visible()
    await shots.take(page, "signed-out")

    # The buyer signs up, opens the ticket and purchases it.
    await sign_up(page, shots, "buyer")
    await row.get_by_role("link", name="View").click()
    await expect(page.get_by_role("heading", name=title)).to_be_visible()
    await expect(page.get_by_text("Price: 12.50")).to_be_visible()
    await shots.take(page, "ticket")
    await page.get_by_role("button", name="Purchase").click()

    # The order page counts down, and ticks.
    await expect(page).to_have_url(re.compile(r"/orders/[0-9a-f]{24}$"))
    first = await seconds_left(page)
    assert 890 <= first <= 900
    await expect(page.get_by_text(SECONDS_LEFT)).not_to_have_text(
        f"Time left to pay: {first} seconds", timeout=3000
    )
    await shots.take(page, "order")

    # Paying with the test card ends on My Orders, with the order complete.
    await page.get_by_role("button", name="Pay $12.50").click()
    await expect(page).to_have_url(f"{stack.url}/orders")
    await expect(page.get_by_role("listitem").filter(has_text=title)).to_have_text(
        f"{title} - complete"
    )
    await shots.take(page, "my-orders")


async def test_an_unpaid_order_shows_order_expired_when_its_hold_runs_out(
    short_hold_stack: Stack, someone: PersonFactory, phone: Page, screenshots: Screenshots
) -> None:
    page, shots = phone, screenshots
    seller, prober = await someone(short_hold_stack), await someone(short_hold_stack)
    ticket = await ticket_orders_knows(seller, prober, f"Short hold {uuid.uuid4().hex[:6]}", 9)
    await page.goto(short_hold_stack.url)
    await sign_up(page, shots, "buyer")
    await page.goto(f"{short_hold_stack.url}/tickets/{ticket['id']}")
    await shots.take(page, "ticket")

    await page.get_by_role("button", name="Purchase").click()

    assert 0 <= await seconds_left(page) <= 3
    await shots.take(page, "order-counting-down")
    await expect(page.get_by_text("Order Expired")).to_be_visible(timeout=8000)
    await expect(page.get_by_role("button", name=re.compile("^Pay"))).to_be_hidden()
    await expect(page.get_by_text(SECONDS_LEFT)).to_be_hidden()
    await shots.take(page, "order-expired")
    await page.reload()
    await expect(page.get_by_text("Order Expired")).to_be_visible()
    await shots.take(page, "order-expired-reloaded")


async def test_a_bad_sign_up_shows_the_apis_errors_next_to_the_form(
    stack: Stack, phone: Page, screenshots: Screenshots
) -> None:
    page, shots = phone, screenshots
    await page.goto(f"{stack.url}/auth/signup")
    await page.get_by_label("Email Address").fill("not-an-email")
    await page.get_by_label("Password").fill("1")

    await page.get_by_role("button", name="Sign Up").click()

    alert = page.get_by_role("alert")
    await expect(alert.get_by_role("listitem")).to_have_text(
        ["Email must be valid", "Password must be between 8 and 128 characters"]
    )
    await expect(page.get_by_label("Email Address")).to_have_value("not-an-email")
    await shots.take(page, "sign-up-errors")


# A page on another site that posts to us as soon as it loads (a classic CSRF attack).
FORGED_FORM = """<!doctype html>
<form method="post" action="{action}">
  <input name="title" value="Forged gig"><input name="price" value="1">
  <input name="csrf" value="guessed">
</form>
<script>document.forms[0].submit()</script>
"""


async def test_a_form_posted_from_another_site_is_refused(
    stack: Stack, phone: Page, screenshots: Screenshots
) -> None:
    page, shots = phone, screenshots
    await page.goto(stack.url)
    await sign_up(page, shots, "victim")
    evil = "http://evil.example/"
    html = FORGED_FORM.format(action=f"{stack.url}/tickets/new")
    await page.route(evil, lambda route: route.fulfill(body=html, content_type="text/html"))

    async with page.expect_navigation(url=f"{stack.url}/tickets/new") as posted:
        await page.goto(evil)

    response = await posted.value
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("heading", name="That form could not be sent")).to_be_visible()
    await shots.take(page, "cross-site-post-refused")
    await page.goto(stack.url)
    await expect(page.get_by_role("row").filter(has_text="Forged gig")).to_have_count(0)
