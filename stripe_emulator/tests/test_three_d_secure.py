"""3-D Secure in the emulator: ``pm_card_threeDSecure2Required`` waits in requires_action
until the buyer answers the challenge page; ConfirmationTokens; the Stripe.js stand-in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import stripe
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.testing.poll import eventually
from stripe_emulator.app import create_emulator_app
from stripe_emulator.state import AUTHENTICATION_FAILED
from stripe_emulator.tests.test_emulator import (
    WEBHOOK_SECRET,
    ServerFactory,
    base_url,
    create_intent,
    sdk_client,
)

THREE_DS = "pm_card_threeDSecure2Required"
RETURN_URL = "https://shop.example/orders/o1/authenticated"


@pytest.fixture
async def emulator_url(aiohttp_server: ServerFactory) -> str:
    return base_url(await aiohttp_server(create_emulator_app()))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(emulator_url: str, http: aiohttp.ClientSession) -> stripe.StripeClient:
    return sdk_client(emulator_url, http)


async def challenged(
    client: stripe.StripeClient, return_url: str | None = None
) -> tuple[stripe.PaymentIntent, stripe.PaymentIntent]:
    intent = await create_intent(client)
    params: stripe.params.PaymentIntentConfirmParams = {"payment_method": THREE_DS}
    if return_url is not None:
        params["return_url"] = return_url
    confirmed = await client.v1.payment_intents.confirm_async(intent.id, params=params)
    return intent, confirmed


def challenge_url(intent: stripe.PaymentIntent) -> str:
    action = intent.to_dict()["next_action"]
    if action["type"] == "redirect_to_url":
        return str(action["redirect_to_url"]["url"])
    return str(action["use_stripe_sdk"]["stripe_js"])


async def answer(
    http: aiohttp.ClientSession, url: str, outcome: str, *, as_json: bool = False
) -> aiohttp.ClientResponse:
    headers = {"Accept": "application/json"} if as_json else {}
    return await http.post(url, data={"outcome": outcome}, headers=headers, allow_redirects=False)


async def test_a_3ds_card_confirmed_with_a_return_url_waits_for_a_redirect_challenge(
    client: stripe.StripeClient, emulator_url: str
) -> None:
    _, confirmed = await challenged(client, return_url=RETURN_URL)

    assert confirmed.status == "requires_action"
    assert confirmed.amount_received == 0
    action = confirmed.to_dict()["next_action"]
    assert action["type"] == "redirect_to_url"
    assert action["redirect_to_url"]["return_url"] == RETURN_URL
    assert action["redirect_to_url"]["url"].startswith(
        f"{emulator_url}/_emulator/3ds/{confirmed.id}/"
    )
    assert str(confirmed.client_secret).startswith(f"{confirmed.id}_secret_")


async def test_without_a_return_url_the_challenge_is_for_stripe_js(
    client: stripe.StripeClient,
) -> None:
    _, confirmed = await challenged(client)

    assert confirmed.status == "requires_action"
    assert confirmed.to_dict()["next_action"]["type"] == "use_stripe_sdk"


async def test_the_challenge_page_offers_complete_and_fail(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    _, confirmed = await challenged(client, return_url=RETURN_URL)

    page = await http.get(challenge_url(confirmed))

    text = await page.text()
    assert page.status == 200
    assert "3D Secure 2 Test Page" in text
    assert 'value="complete">Complete</button>' in text
    assert 'value="fail">Fail</button>' in text
    assert "20.00 USD" in text


async def test_completing_the_challenge_succeeds_the_intent_and_goes_back_to_the_return_url(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    _, confirmed = await challenged(client, return_url=RETURN_URL)

    response = await answer(http, challenge_url(confirmed), "complete")

    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == RETURN_URL
    assert parse_qs(location.query) == {
        "payment_intent": [confirmed.id],
        "payment_intent_client_secret": [confirmed.client_secret],
        "redirect_status": ["succeeded"],
    }
    after = await client.v1.payment_intents.retrieve_async(confirmed.id)
    assert after.status == "succeeded"
    assert after.amount_received == 2000
    assert after.next_action is None


async def test_failing_the_challenge_asks_for_another_payment_method(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    _, confirmed = await challenged(client, return_url=RETURN_URL)

    response = await answer(http, challenge_url(confirmed), "fail")

    assert response.status == 303
    assert "redirect_status=failed" in response.headers["Location"]
    after = await client.v1.payment_intents.retrieve_async(confirmed.id)
    assert after.status == "requires_payment_method"
    assert after.amount_received == 0
    error = after.to_dict()["last_payment_error"]
    assert error["code"] == "payment_intent_authentication_failure"
    assert error["message"] == AUTHENTICATION_FAILED
    # The buyer may pay with another card on the same intent.
    again = await client.v1.payment_intents.confirm_async(
        confirmed.id, params={"payment_method": "pm_card_visa"}
    )
    assert again.status == "succeeded"


async def test_a_challenge_is_answered_once(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    _, confirmed = await challenged(client, return_url=RETURN_URL)
    url = challenge_url(confirmed)
    assert (await answer(http, url, "complete")).status == 303

    again = await answer(http, url, "fail")

    assert again.status == 400
    assert "no longer open" in await again.text()
    assert (await http.get(url)).status == 400
    after = await client.v1.payment_intents.retrieve_async(confirmed.id)
    assert after.status == "succeeded"


async def test_confirming_again_replaces_the_open_challenge(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    _, first = await challenged(client, return_url=RETURN_URL)
    stale = challenge_url(first)

    paid = await client.v1.payment_intents.confirm_async(
        first.id, params={"payment_method": "pm_card_visa"}
    )

    assert paid.status == "succeeded"
    assert (await answer(http, stale, "complete")).status == 400
    refunds = await client.v1.refunds.list_async(params={"payment_intent": first.id})
    assert refunds.data == []


async def test_a_cancelled_intent_closes_its_challenge(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    _, confirmed = await challenged(client, return_url=RETURN_URL)

    await client.v1.payment_intents.cancel_async(confirmed.id)

    assert (await answer(http, challenge_url(confirmed), "complete")).status == 400
    after = await client.v1.payment_intents.retrieve_async(confirmed.id)
    assert after.status == "canceled"


async def test_an_answer_by_fetch_gets_the_intent_as_json(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    _, confirmed = await challenged(client)

    response = await answer(http, challenge_url(confirmed), "complete", as_json=True)

    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert (await response.json())["status"] == "succeeded"


async def test_an_answer_other_than_complete_or_fail_is_refused(
    client: stripe.StripeClient, http: aiohttp.ClientSession
) -> None:
    _, confirmed = await challenged(client)

    response = await answer(http, challenge_url(confirmed), "maybe")

    assert response.status == 400
    after = await client.v1.payment_intents.retrieve_async(confirmed.id)
    assert after.status == "requires_action"


async def test_a_confirmation_token_confirms_like_its_payment_method(
    client: stripe.StripeClient,
) -> None:
    token = await client.v1.test_helpers.confirmation_tokens.create_async(
        params={"payment_method": "pm_card_visa"}
    )
    intent = await create_intent(client)

    paid = await client.v1.payment_intents.confirm_async(
        intent.id, params={"confirmation_token": token.id}
    )

    assert token.id.startswith("ctoken_")
    assert paid.status == "succeeded"


async def test_a_3ds_confirmation_token_waits_for_stripe_js_to_show_the_challenge(
    client: stripe.StripeClient,
) -> None:
    token = await client.v1.test_helpers.confirmation_tokens.create_async(
        params={"payment_method": THREE_DS}
    )
    intent = await create_intent(client)

    confirmed = await client.v1.payment_intents.confirm_async(
        intent.id, params={"confirmation_token": token.id, "return_url": RETURN_URL}
    )

    assert confirmed.status == "requires_action"
    assert confirmed.to_dict()["next_action"]["type"] == "use_stripe_sdk"


async def test_an_unknown_confirmation_token_is_refused(client: stripe.StripeClient) -> None:
    intent = await create_intent(client)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.confirm_async(
            intent.id, params={"confirmation_token": "ctoken_nope"}
        )

    assert raised.value.param == "confirmation_token"


async def test_stripe_js_makes_a_token_from_a_test_card_number_with_the_publishable_key(
    http: aiohttp.ClientSession, emulator_url: str
) -> None:
    response = await http.post(
        f"{emulator_url}/v1/confirmation_tokens",
        data={
            "key": "pk_test_browser",
            "payment_method_data[type]": "card",
            "payment_method_data[card][number]": "4000 0027 6000 3184",
        },
    )

    token = await response.json()
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert token["payment_method_preview"]["card"]["last4"] == "3184"


async def test_an_unknown_card_number_is_a_card_error(
    http: aiohttp.ClientSession, emulator_url: str
) -> None:
    response = await http.post(
        f"{emulator_url}/v1/confirmation_tokens",
        data={"key": "pk_test_browser", "payment_method_data[card][number]": "1234"},
    )

    assert response.status == 402
    assert (await response.json())["error"]["code"] == "incorrect_number"


async def test_a_publishable_key_reads_an_intent_only_with_its_client_secret_and_moves_no_money(
    client: stripe.StripeClient, http: aiohttp.ClientSession, emulator_url: str
) -> None:
    _, confirmed = await challenged(client)
    url = f"{emulator_url}/v1/payment_intents/{confirmed.id}"

    secret = str(confirmed.client_secret)
    own = await http.get(url, params={"key": "pk_test_b", "client_secret": secret})
    guessed = await http.get(url, params={"key": "pk_test_b", "client_secret": "wrong"})
    refund = await http.post(
        f"{emulator_url}/v1/refunds", data={"key": "pk_test_b", "payment_intent": confirmed.id}
    )

    assert own.status == 200
    assert (await own.json())["status"] == "requires_action"
    assert guessed.status == 404
    assert refund.status == 401


async def test_the_stripe_js_stand_in_calls_this_emulator(
    http: aiohttp.ClientSession, emulator_url: str
) -> None:
    response = await http.get(f"{emulator_url}/v3/")

    script = await response.text()
    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert f"var API = {json.dumps(emulator_url)};" in script
    assert "handleNextAction" in script


async def test_a_public_url_is_where_challenges_point(
    aiohttp_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await aiohttp_server(create_emulator_app(public_url="https://stripe.local"))
    _, confirmed = await challenged(sdk_client(base_url(server), http))

    assert challenge_url(confirmed).startswith("https://stripe.local/_emulator/3ds/")


async def test_the_challenges_outcome_is_posted_as_stripes_webhooks(
    aiohttp_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    received: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.json_response({"received": True})

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    hook: TestServer = await aiohttp_server(receiver)
    emulator = await aiohttp_server(
        create_emulator_app(webhook_url=f"{base_url(hook)}/hook", webhook_secret=WEBHOOK_SECRET)
    )
    client = sdk_client(base_url(emulator), http)
    _, passed = await challenged(client)
    _, failed = await challenged(client)

    await answer(http, challenge_url(passed), "complete", as_json=True)
    await answer(http, challenge_url(failed), "fail", as_json=True)

    def seen() -> set[tuple[str, str]]:
        return {(e["type"], e["data"]["object"]["id"]) for e in received}

    await eventually(lambda: len(seen()) == 4, what="four webhooks")
    assert seen() == {
        ("payment_intent.requires_action", passed.id),
        ("payment_intent.requires_action", failed.id),
        ("payment_intent.succeeded", passed.id),
        ("payment_intent.payment_failed", failed.id),
    }
