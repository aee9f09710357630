"""The header (spec §12.2) and the landing page's ticket list (spec §12.3)."""

from __future__ import annotations

from services.client.tests.conftest import Client, Cookies, Platform, page
from shared.testing.poll import eventually


async def test_a_visitor_is_offered_sign_up_and_sign_in(client: Client) -> None:
    response = await client.get("/")

    shown = await page(response)
    assert response.status == 200
    assert shown.nav == ["GitTix", "Sign Up", "Sign In"]
    assert ("GitTix", "/") in shown.links


async def test_a_signed_in_user_is_offered_selling_their_orders_and_signing_out(
    client: Client, seller: Cookies
) -> None:
    shown = await page(await client.get("/", cookies=seller))

    assert shown.nav == ["GitTix", "Sell Tickets", "My Orders", "Sign Out"]
    assert ("Sell Tickets", "/tickets/new") in shown.links
    assert ("My Orders", "/orders") in shown.links
    # Signing out is a POST: a button in a form, not a link.
    assert ("Sign Out", "/auth/signout") in shown.buttons
    assert "/auth/signout" not in [href for _, href in shown.links]


async def test_a_session_cookie_auth_cannot_read_counts_as_signed_out(client: Client) -> None:
    shown = await page(await client.get("/", cookies={"session": "not-a-session"}))

    assert shown.nav == ["GitTix", "Sign Up", "Sign In"]


async def test_the_landing_page_lists_tickets_with_two_decimal_prices_and_a_view_link(
    client: Client, platform: Platform, seller: Cookies
) -> None:
    ticket = await platform.sell(seller, title="Concert <b>Night</b>", price=12.5)

    response = await client.get("/")

    shown = await page(response)
    assert "Tickets Title Price Link" in shown.text
    assert "Concert <b>Night</b> 12.50 View" in shown.text  # escaped, not markup
    assert ("View", f"/tickets/{ticket['id']}") in shown.links


async def test_a_reserved_ticket_is_not_listed(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller, title="Reserved gig")
    view = ("View", f"/tickets/{ticket['id']}")
    assert view in (await page(await client.get("/"))).links  # so leaving it means something
    await platform.place_order(buyer, ticket["id"])

    async def unlisted() -> bool:
        return view not in (await page(await client.get("/"))).links

    # Tickets hears of the order through an event, a moment after orders answers.
    assert await eventually(unlisted, what="the reserved ticket to leave the list")


async def test_pages_are_never_cached_and_carry_security_headers(client: Client) -> None:
    response = await client.get("/")

    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
