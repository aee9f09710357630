"""Every form carries a CSRF token the client checks; posts from another site are refused
(issue 13, CSRF)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from services.client.bootstrap import create_service
from services.client.config import Settings
from services.client.tests.conftest import (
    Client,
    Cookies,
    Platform,
    form,
    page,
    purchase,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def stranger(aiohttp_client: MakeClient, settings: Settings) -> Client:
    """A browser that has not seen a page yet: no CSRF cookie."""
    return await aiohttp_client(create_service(settings))


def test_every_post_form_in_the_templates_includes_the_token() -> None:
    forms = 0
    for template in sorted(TEMPLATES.glob("*.html")):
        for found in re.finditer(r"<form\b[^>]*>(.*?)</form>", template.read_text(), re.S):
            forms += 1
            assert 'method="post"' in found[0], template.name  # we have no GET forms
            assert '{% include "_csrf.html" %}' in found[1], template.name
    assert forms >= 6  # sign in/up, sign out, sell, purchase, pay (two variants)


async def test_a_page_gives_a_new_browser_the_token_in_a_cookie_and_in_its_forms(
    stranger: Client,
) -> None:
    response = await stranger.get("/auth/signin")

    cookie = response.cookies["csrf"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie.value)
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # COOKIE_SECURE=false here
    assert (await page(response)).csrf_fields == [cookie.value]
    # The next page keeps it: one token per browser, not per page.
    again = await stranger.get("/auth/signup")
    assert "csrf" not in again.cookies
    assert (await page(again)).csrf_fields == [cookie.value]


async def test_with_secure_cookies_it_is_a_host_prefixed_secure_cookie(
    aiohttp_client: MakeClient, settings: Settings
) -> None:
    secure = await aiohttp_client(create_service(replace(settings, cookie_secure=True)))

    response = await secure.get("/auth/signin")

    [header] = response.headers.getall("Set-Cookie")
    assert header.startswith("__Host-csrf=")
    assert "Secure" in header
    assert "Path=/" in header
    assert "Domain" not in header


async def test_the_token_from_the_page_signs_up(stranger: Client) -> None:
    shown = await page(await stranger.get("/auth/signup"))

    response = await stranger.post(
        "/auth/signup",
        data={
            "csrf": shown.csrf_fields[0],
            "email": f"csrf-{uuid.uuid4().hex[:10]}@test.com",
            "password": "long enough password",
        },
        allow_redirects=False,
    )

    assert response.status == 303


@pytest.mark.parametrize(
    "fields",
    [
        {},  # no token
        {"csrf": ""},
        {"csrf": "u" * 43},  # a token, but not this browser's
    ],
)
async def test_a_post_without_the_browsers_token_is_a_403_page(
    client: Client, seller: Cookies, fields: dict[str, str]
) -> None:
    response = await client.post(
        "/tickets/new", data={"title": "Forged", "price": "10", **fields}, cookies=seller
    )

    assert response.status == 403
    assert response.content_type == "text/html"
    assert "That form could not be sent" in (await page(response)).text
    assert "Forged" not in (await page(await client.get("/"))).text  # nothing was sold


async def test_a_post_from_a_browser_without_the_cookie_is_a_403_page(
    stranger: Client, seller: Cookies
) -> None:
    response = await stranger.post(
        "/tickets/new", data=form(title="Forged", price="10"), cookies=seller
    )

    assert response.status == 403
    assert "That form could not be sent" in (await page(response)).text
    # The refusal brings a token, so the form works once reloaded.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", response.cookies["csrf"].value)


async def test_purchase_and_pay_check_the_token_too(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller)
    order = await platform.place_order(buyer, ticket["id"])

    bare_purchase = await client.post(
        f"/tickets/{ticket['id']}", data={"idempotency_key": ""}, cookies=buyer
    )
    bare_pay = await client.post(
        f"/orders/{order['id']}", data={"token": "pm_card_visa"}, cookies=buyer
    )

    assert (bare_purchase.status, bare_pay.status) == (403, 403)
    order_page = await page(await client.get(f"/orders/{order['id']}", cookies=buyer))
    assert "Time left to pay" in order_page.text  # not paid


async def test_a_cross_site_form_post_is_refused_even_with_the_token(
    client: Client, seller: Cookies
) -> None:
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await client.post(
            "/tickets/new", data=form(title="Forged", price="10"), cookies=seller, headers=headers
        )

        assert response.status == 403, headers
        assert response.content_type == "text/html"  # the client's page, not JSON


async def test_a_same_origin_form_post_passes(
    client: Client, platform: Platform, seller: Cookies, buyer: Cookies
) -> None:
    ticket = await platform.sell(seller)
    origin = f"http://{client.host}:{client.port}"

    response = await purchase(client, buyer, ticket["id"])  # no Origin: passes
    with_origin = await client.post(
        "/auth/signout",
        data=form(),
        cookies=buyer,
        headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
    )

    assert response.status == 303
    assert with_origin.status == 303
