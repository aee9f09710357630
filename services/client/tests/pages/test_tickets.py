"""Selling a ticket, its page, and purchasing it (spec §12.3)."""

from __future__ import annotations

import re

from bson import ObjectId

from services.client.tests.conftest import Client, Cookies, Platform, form, page, purchase
from shared.testing.fixtures import Signin


async def test_the_sell_form_asks_for_title_and_price(client: Client, seller: Cookies) -> None:
    response = await client.get("/tickets/new", cookies=seller)

    html = await response.text()
    assert response.status == 200
    assert "<h1>Create a Ticket</h1>" in html
    assert 'name="title"' in html
    assert 'name="price"' in html
    assert '<script src="/static/js/price.js" defer></script>' in html


async def test_selling_a_ticket_goes_home_where_it_is_listed(
    client: Client, seller: Cookies
) -> None:
    response = await client.post(
        "/tickets/new",
        data=form(title="Opera", price="12.5"),
        cookies=seller,
        allow_redirects=False,
    )

    assert response.status == 303
    assert response.headers["Location"] == "/"
    assert "Opera 12.50 View" in (await page(await client.get("/"))).text


async def test_a_bad_ticket_shows_the_apis_errors_and_keeps_what_was_typed(
    client: Client, seller: Cookies
) -> None:
    response = await client.post("/tickets/new", data=form(title=" ", price="-5"), cookies=seller)

    assert response.status == 400
    assert (await page(response)).alerts == ["Title is required", "Price must be greater than 0"]
    assert 'value="-5"' in await response.text()


async def test_selling_while_signed_out_shows_not_authorized(client: Client) -> None:
    response = await client.post("/tickets/new", data=form(title="Opera", price="10"))

    assert response.status == 401
    assert (await page(response)).alerts == ["Not Authorized"]


async def test_the_ticket_page_shows_its_title_price_and_a_purchase_button(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller, title="Ballet", price=20)

    response = await client.get(f"/tickets/{ticket['id']}", cookies=buyer)

    html = await response.text()
    assert response.status == 200
    assert "Ballet Price: 20.00 Purchase" in (await page(response)).text
    assert f'action="/tickets/{ticket["id"]}"' in html


async def test_purchasing_places_an_order_and_goes_to_its_page(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller)

    response = await purchase(client, buyer, ticket["id"])

    assert response.status == 303
    assert re.fullmatch(r"/orders/[0-9a-f]{24}", response.headers["Location"])
    order_page = await page(await client.get(response.headers["Location"], cookies=buyer))
    assert re.search(r"Time left to pay: (899|900) seconds", order_page.text)


async def test_purchasing_a_reserved_ticket_says_it_is_already_reserved(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies, signin: Signin
) -> None:
    ticket = await platform.sell(seller)
    await platform.place_order(signin(), ticket["id"])  # someone else holds it now

    response = await purchase(client, buyer, ticket["id"])

    assert response.status == 400
    shown = await page(response)
    assert shown.alerts == ["Ticket is already reserved"]
    assert "Purchase" in shown.text


async def test_pressing_purchase_twice_ends_on_the_same_order(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller)
    html = await (await client.get(f"/tickets/{ticket['id']}", cookies=buyer)).text()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html)
    assert key is not None

    first = await purchase(client, buyer, ticket["id"], idempotency_key=key[1])
    second = await purchase(client, buyer, ticket["id"], idempotency_key=key[1])

    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]


async def test_an_unknown_ticket_is_the_not_found_page(client: Client) -> None:
    for path in (f"/tickets/{ObjectId()}", "/tickets/not-an-id"):
        response = await client.get(path)

        assert response.status == 404
        assert "Page not found" in (await page(response)).text
