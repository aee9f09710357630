"""3-D Secure through the API, on the Stripe emulator: POST /api/payments answers 202 with
the challenge, the buyer answers it at "the bank" (the emulator's page), and
POST /api/payments/confirm or the webhook settles the one intent, once."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import stripe

from services.payments.service import Deps
from services.payments.tests.api.test_webhook import deliver, intent_succeeded
from services.payments.tests.conftest import (
    Buyer,
    Client,
    intents_of,
    order_cancelled,
    payment_docs,
    payments_announced,
    publish,
    refunds_of,
    replica,
)
from shared.events import OrderCreated
from shared.messaging import Publisher
from shared.mongo import Mongo
from shared.testing.events import EventTap
from shared.testing.money import at_stripe, money_violations

THREE_DS = "pm_card_threeDSecure2Required"
RETURN_URL = "http://127.0.0.1:3000/orders/o/authenticated"


async def challenged(buyer: Buyer, order: OrderCreated) -> dict[str, Any]:
    """Pay with the 3-D Secure card: the 202 body."""
    response = await buyer.pay(order.id, THREE_DS, json_extra={"returnUrl": RETURN_URL})
    assert response.status == 202, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def answer(url: str, outcome: str) -> str:
    """Answer the challenge as the buyer's browser does; where it is sent back to."""
    async with aiohttp.ClientSession() as browser:
        page = await browser.get(url)
        assert page.status == 200
        assert "3D Secure 2 Test Page" in await page.text()
        answered = await browser.post(url, data={"outcome": outcome}, allow_redirects=False)
        assert answered.status == 303, await answered.text()
        return answered.headers["Location"]


async def confirm(buyer: Buyer, order_id: str, **kw: Any) -> aiohttp.ClientResponse:
    return await buyer.client.post(
        "/api/payments/confirm", json={"orderId": order_id}, cookies=buyer.cookies, **kw
    )


async def test_a_3ds_card_is_a_202_with_the_challenge_and_takes_nothing(
    buyer: Buyer, mongo: Mongo, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()

    body = await challenged(buyer, order)

    [intent] = await intents_of(stripe_client, order.id)
    assert body == {
        "status": "requires_action",
        "orderId": order.id,
        "clientSecret": intent.client_secret,
        "nextAction": {"type": "redirect_to_url", "redirectUrl": body["nextAction"]["redirectUrl"]},
    }
    assert intent.status == "requires_action"
    assert await payment_docs(mongo, order.id) == []
    assert (await replica(buyer.deps, order.id)).paid_by is None


async def test_a_passed_challenge_is_confirmed_into_one_payment_however_often_confirmed(
    buyer: Buyer, deps: Deps, events: EventTap, mongo: Mongo, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()
    body = await challenged(buyer, order)

    back = await answer(body["nextAction"]["redirectUrl"], "complete")
    first = await confirm(buyer, order.id)
    again = await confirm(buyer, order.id)

    assert back.startswith(f"{RETURN_URL}?payment_intent=")
    assert "redirect_status=succeeded" in back
    assert (first.status, again.status) == (201, 201)
    payment = await first.json()
    assert await again.json() == payment
    [record] = await payment_docs(mongo, order.id)
    assert (str(record["_id"]), record["status"]) == (payment["id"], "succeeded")
    assert len(await payments_announced(deps, events, order.id)) == 1
    assert money_violations("complete", await at_stripe(stripe_client, order.id)) == []


async def test_confirming_before_the_challenge_is_answered_is_202_again(buyer: Buyer) -> None:
    order = await buyer.open_order()
    body = await challenged(buyer, order)

    response = await confirm(buyer, order.id)

    assert response.status == 202
    assert await response.json() == body


async def test_paying_twice_with_the_3ds_card_shows_one_challenge(buyer: Buyer) -> None:
    order = await buyer.open_order()
    headers = {"Idempotency-Key": "one-click"}

    first, second = await asyncio.gather(
        buyer.pay(order.id, THREE_DS, headers=headers, json_extra={"returnUrl": RETURN_URL}),
        buyer.pay(order.id, THREE_DS, headers=headers, json_extra={"returnUrl": RETURN_URL}),
    )

    assert (first.status, second.status) == (202, 202)
    assert await first.json() == await second.json()


async def test_a_failed_challenge_is_a_402_and_the_buyer_may_pay_with_another_card(
    buyer: Buyer, deps: Deps, events: EventTap, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()
    body = await challenged(buyer, order)

    back = await answer(body["nextAction"]["redirectUrl"], "fail")
    declined = await confirm(buyer, order.id)
    retried = await buyer.pay(order.id, "pm_card_visa")

    assert "redirect_status=failed" in back
    assert declined.status == 402
    assert (await declined.json())["errors"][0]["message"].startswith(
        "We are unable to authenticate your payment method."
    )
    assert retried.status == 201, await retried.text()
    [intent] = await intents_of(stripe_client, order.id)
    assert intent.status == "succeeded"
    assert len(await payments_announced(deps, events, order.id)) == 1


async def test_a_new_try_with_the_3ds_card_after_a_failed_challenge_gets_a_new_challenge(
    buyer: Buyer,
) -> None:
    order = await buyer.open_order()
    first = await buyer.pay(
        order.id, THREE_DS, headers={"Idempotency-Key": "a"}, json_extra={"returnUrl": RETURN_URL}
    )
    await answer((await first.json())["nextAction"]["redirectUrl"], "fail")

    second = await buyer.pay(
        order.id, THREE_DS, headers={"Idempotency-Key": "b"}, json_extra={"returnUrl": RETURN_URL}
    )

    assert second.status == 202
    url = (await second.json())["nextAction"]["redirectUrl"]
    assert url != (await first.json())["nextAction"]["redirectUrl"]
    await answer(url, "complete")
    assert (await confirm(buyer, order.id)).status == 201


async def test_retrying_the_3ds_card_without_a_key_after_failed_challenges_gets_new_ones(
    buyer: Buyer,
) -> None:
    # No Idempotency-Key: each try is the same request (card and return URL) to Stripe.
    order = await buyer.open_order()
    seen: list[str] = []
    for _ in range(3):
        url = (await challenged(buyer, order))["nextAction"]["redirectUrl"]
        assert url not in seen
        seen.append(url)
        await answer(url, "fail")

    last = (await challenged(buyer, order))["nextAction"]["redirectUrl"]
    assert (await challenged(buyer, order))["nextAction"]["redirectUrl"] == last  # a repeat
    assert last not in seen
    await answer(last, "complete")
    assert (await confirm(buyer, order.id)).status == 201


@pytest.mark.parametrize("first", ["webhook", "browser", "both at once"])
async def test_the_webhook_and_the_browsers_confirm_record_one_payment_in_any_order(
    client: Client,
    buyer: Buyer,
    deps: Deps,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
    first: str,
) -> None:
    order = await buyer.open_order()
    body = await challenged(buyer, order)
    await answer(body["nextAction"]["redirectUrl"], "complete")
    [intent] = await intents_of(stripe_client, order.id)

    if first == "webhook":
        delivered = await deliver(client, intent_succeeded(intent))
        confirmed = await confirm(buyer, order.id)
    elif first == "browser":
        confirmed = await confirm(buyer, order.id)
        delivered = await deliver(client, intent_succeeded(intent))
    else:
        delivered, confirmed = await asyncio.gather(
            deliver(client, intent_succeeded(intent)), confirm(buyer, order.id)
        )

    assert (delivered, confirmed.status) == (200, 201)
    [record] = await payment_docs(mongo, order.id)
    assert str(record["_id"]) == (await confirmed.json())["id"]
    assert len(await payments_announced(deps, events, order.id)) == 1


async def test_a_challenge_passed_after_the_order_was_cancelled_is_refunded_and_refused(
    buyer: Buyer,
    deps: Deps,
    publisher: Publisher,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.open_order()
    body = await challenged(buyer, order)
    await publish(publisher, order_cancelled(order))
    await replica(deps, order.id, status="cancelled")

    await answer(body["nextAction"]["redirectUrl"], "complete")
    response = await confirm(buyer, order.id)

    assert response.status == 400
    assert (await response.json())["errors"] == [{"message": "Cannot pay for an cancelled order"}]
    [intent] = await intents_of(stripe_client, order.id)
    [refund] = await refunds_of(stripe_client, intent.id)
    assert refund.amount == intent.amount
    [record] = await payment_docs(mongo, order.id)
    assert (record["status"], record["refund_reason"]) == ("refunded", "order_cancelled")
    assert await payments_announced(deps, events, order.id) == []
    assert money_violations("cancelled", await at_stripe(stripe_client, order.id)) == []


async def test_an_abandoned_challenge_of_a_cancelled_order_takes_and_refunds_nothing(
    buyer: Buyer, deps: Deps, publisher: Publisher, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()
    await challenged(buyer, order)

    await publish(publisher, order_cancelled(order))
    await replica(deps, order.id, status="cancelled")

    [intent] = await intents_of(stripe_client, order.id)
    assert intent.status == "requires_action"
    assert await refunds_of(stripe_client, intent.id) == []
    assert money_violations("cancelled", await at_stripe(stripe_client, order.id)) == []


async def test_only_the_buyer_may_confirm(buyer: Buyer, client: Client, signin: Any) -> None:
    order = await buyer.open_order()
    await challenged(buyer, order)

    someone_else = await client.post(
        "/api/payments/confirm",
        json={"orderId": order.id},
        cookies=signin("6003115eae86e60018be7b1f"),
    )
    nobody = await client.post("/api/payments/confirm", json={"orderId": order.id})
    unknown = await confirm(buyer, "6003115eae86e60018be7b1e")

    assert (someone_else.status, nobody.status, unknown.status) == (401, 401, 404)


async def test_a_return_url_that_is_not_http_is_a_400(buyer: Buyer) -> None:
    order = await buyer.open_order()

    response = await buyer.pay(order.id, THREE_DS, json_extra={"returnUrl": "javascript:alert(1)"})

    assert response.status == 400
    assert (await response.json())["errors"] == [
        {"message": "Return URL must be an http or https URL", "field": "returnUrl"}
    ]


async def test_a_confirmation_token_from_stripe_js_pays(
    buyer: Buyer, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()
    token = await stripe_client.v1.test_helpers.confirmation_tokens.create_async(
        params={"payment_method": "pm_card_visa"}
    )

    response = await buyer.pay(order.id, token.id)

    assert response.status == 201, await response.text()


async def test_a_3ds_confirmation_token_leaves_the_challenge_to_stripe_js(
    buyer: Buyer, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()
    token = await stripe_client.v1.test_helpers.confirmation_tokens.create_async(
        params={"payment_method": THREE_DS}
    )

    response = await buyer.pay(order.id, token.id, json_extra={"returnUrl": RETURN_URL})

    assert response.status == 202
    assert (await response.json())["nextAction"] == {"type": "use_stripe_sdk"}
