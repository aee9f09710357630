"""The order page through 3-D Secure, on handed-in APIs: payments' 202 becomes the way to
the bank's challenge; coming back (or Stripe.js's confirm) asks payments to finish."""

from __future__ import annotations

from dataclasses import replace

import pytest
from marshmallow import ValidationError

from services.client.adapters.replies import ActionRequiredReply
from services.client.domain import ActionRequired, Payment
from services.client.ports import Rejected
from services.client.tests.conftest import CSRF_TOKEN, form
from services.client.tests.unit.test_pages_on_a_handed_in_platform import (
    MakeClient,
    Platform,
    an_order,
    settings,
)
from services.client.web.app import create_app
from shared.events import OrderStatus

BANK = "http://127.0.0.1:12111/_emulator/3ds/pi_1/3ds_1"
DECLINED = Rejected(402, [{"message": "We are unable to authenticate your payment method."}])
BROWSER = {"csrf": CSRF_TOKEN}


def open_order_platform(*answers: Payment | ActionRequired | Rejected) -> Platform:
    platform = Platform(an_order(OrderStatus.CREATED), [])
    platform.answers = list(answers)
    return platform


async def test_the_offline_form_offers_the_3ds_test_card(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(settings(), deps=open_order_platform()))

    html = await (await client.get("/orders/o1")).text()

    assert 'value="pm_card_threeDSecure2Required"' in html
    assert "Visa 4000 0027 6000 3184 (asks for 3-D Secure)" in html


async def test_a_card_that_asks_for_3ds_shows_the_way_to_the_bank_and_charges_nothing(
    aiohttp_client: MakeClient,
) -> None:
    platform = open_order_platform(ActionRequired("pi_1_secret_x", BANK))
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.post(
        "/orders/o1", data=form(token="pm_card_threeDSecure2Required"), cookies=BROWSER
    )

    html = await response.text()
    assert response.status == 200
    assert "Your bank asks you to confirm this payment (3-D Secure)." in html
    assert f'<a class="button" href="{BANK}">Continue to your bank</a>' in html
    assert "pm_card_visa" not in html  # the way to the bank instead of the pay form
    [(call, token, return_url)] = platform.calls
    assert (call, token) == ("pay", "pm_card_threeDSecure2Required")
    assert return_url == f"http://127.0.0.1:{client.port}/orders/o1/authenticated"


async def test_back_from_a_passed_challenge_goes_to_my_orders(aiohttp_client: MakeClient) -> None:
    platform = open_order_platform(Payment("p1"))
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.get(
        "/orders/o1/authenticated?payment_intent=pi_1&redirect_status=succeeded",
        allow_redirects=False,
    )

    assert response.status == 303
    assert response.headers["Location"] == "/orders"
    assert platform.calls == [("confirm", "o1", "")]


async def test_back_from_a_failed_challenge_shows_why_and_the_pay_form_again(
    aiohttp_client: MakeClient,
) -> None:
    platform = open_order_platform(DECLINED)
    client = await aiohttp_client(create_app(settings(), deps=platform))

    # What Stripe says in the query is not trusted: payments asks Stripe.
    response = await client.get("/orders/o1/authenticated?redirect_status=succeeded")

    html = await response.text()
    assert response.status == 402
    assert "We are unable to authenticate your payment method." in html
    assert 'value="pm_card_visa" checked' in html  # the pay form again


async def test_back_before_the_challenge_was_answered_shows_it_again(
    aiohttp_client: MakeClient,
) -> None:
    platform = open_order_platform(ActionRequired("pi_1_secret_x", BANK))
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.get("/orders/o1/authenticated")

    assert response.status == 200
    assert "Continue to your bank" in await response.text()


async def test_with_stripe_js_the_challenge_is_shown_on_the_page_and_then_confirmed(
    aiohttp_client: MakeClient,
) -> None:
    platform = open_order_platform(ActionRequired("pi_1_secret_x"), Payment("p1"))
    with_stripe = replace(
        settings(), stripe_publishable_key="pk_test_1", stripe_js_url="http://127.0.0.1:9/v3/"
    )
    client = await aiohttp_client(create_app(with_stripe, deps=platform))

    shown = await client.post("/orders/o1", data=form(token="ctoken_1"), cookies=BROWSER)
    html = await shown.text()
    confirmed = await client.post(
        "/orders/o1/confirm", data=form(), cookies=BROWSER, allow_redirects=False
    )

    assert shown.status == 200
    assert '<script src="http://127.0.0.1:9/v3/"></script>' in html
    assert 'data-client-secret="pi_1_secret_x"' in html
    assert 'action="/orders/o1/confirm"' in html
    assert f'name="csrf" value="{CSRF_TOKEN}"' in html
    csp = shown.headers["Content-Security-Policy"]
    assert (
        "script-src 'self' https://js.stripe.com https://*.js.stripe.com http://127.0.0.1:9" in csp
    )
    assert "connect-src 'self' https://api.stripe.com http://127.0.0.1:9" in csp
    assert confirmed.status == 303
    assert [call for call, _, _ in platform.calls] == ["pay", "confirm"]


async def test_the_confirm_form_needs_its_csrf_token(aiohttp_client: MakeClient) -> None:
    platform = open_order_platform(Payment("p1"))
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.post("/orders/o1/confirm", data={}, cookies=BROWSER)

    assert response.status == 403
    assert platform.calls == []


def test_a_challenge_that_is_not_a_web_address_is_an_unexpected_answer() -> None:
    reply = {
        "status": "requires_action",
        "clientSecret": "pi_1_secret_x",
        "nextAction": {"type": "redirect_to_url", "redirectUrl": "javascript:alert(1)"},
    }

    with pytest.raises(ValidationError):
        ActionRequiredReply().load(reply)


def test_stripe_js_s_challenge_has_no_redirect() -> None:
    reply = {"clientSecret": "pi_1_secret_x", "nextAction": {"type": "use_stripe_sdk"}}

    assert ActionRequiredReply().load(reply) == ActionRequired("pi_1_secret_x", None)
