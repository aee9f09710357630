"""POST /api/payments: spec §14.5 `new.test`, declines, the double-payment race, Idempotency-Key."""

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from bson import ObjectId
from prometheus_client import REGISTRY

from services.payments.service import Deps
from services.payments.tests.conftest import (
    Buyer,
    Client,
    intents_of,
    open_order,
    order_created,
    payment_docs,
    payments_announced,
    publish,
    replica,
)
from shared.events import PaymentCreated
from shared.messaging import Publisher
from shared.mongo import Mongo
from shared.testing.events import EventTap, payload
from shared.testing.fixtures import Signin


async def test_a_signed_out_user_cannot_pay(client: Client) -> None:
    response = await client.post("/api/payments", json={})

    assert response.status == 401
    assert await response.json() == {"errors": [{"message": "Not Authorized"}]}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {},
            [
                {"message": "Order id must be provided", "field": "orderId"},
                {"message": "Token must be provided", "field": "token"},
            ],
        ),
        (
            {"orderId": "  ", "token": "pm_card_visa"},
            [{"message": "Order id must be provided", "field": "orderId"}],
        ),
        (
            {"orderId": str(ObjectId()), "token": None},
            [{"message": "Token must be provided", "field": "token"}],
        ),
        (
            {"orderId": 42, "token": ""},
            [
                {"message": "Order id must be provided", "field": "orderId"},
                {"message": "Token must be provided", "field": "token"},
            ],
        ),
    ],
)
async def test_a_missing_order_id_or_token_is_a_400_naming_the_field(
    client: Client, signin: Signin, body: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    response = await client.post("/api/payments", json=body, cookies=signin())

    assert response.status == 400
    assert sorted((await response.json())["errors"], key=str) == sorted(errors, key=str)


async def test_paying_for_an_order_that_does_not_exist_is_a_404(buyer: Buyer) -> None:
    response = await buyer.pay(str(ObjectId()), token="asdasdasd")

    assert response.status == 404
    assert await response.json() == {"errors": [{"message": "Not Found"}]}


async def test_paying_for_someone_elses_order_is_a_401(
    buyer: Buyer, deps: Deps, publisher: Publisher, mongo: Mongo
) -> None:
    order = await open_order(deps, publisher)

    response = await buyer.pay(order.id)

    assert response.status == 401
    assert await payment_docs(mongo, order.id) == []


async def test_paying_for_a_cancelled_order_is_a_400(
    buyer: Buyer, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.cancelled_order()

    response = await buyer.pay(order.id)

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Cannot pay for an cancelled order"}]}
    assert await intents_of(stripe_client, order.id) == []


async def test_paying_once_the_hold_ran_out_is_a_400_even_before_the_cancellation_arrives(
    buyer: Buyer, deps: Deps, publisher: Publisher, stripe_client: stripe.StripeClient
) -> None:
    lapsed = replace(order_created(buyer.id), expires_at=datetime.now(UTC) - timedelta(seconds=1))
    await publish(publisher, lapsed)
    await replica(deps, lapsed.id)

    response = await buyer.pay(lapsed.id)

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Order has expired"}]}
    assert await intents_of(stripe_client, lapsed.id) == []


async def test_a_valid_payment_charges_the_order_price_records_it_and_announces_it(
    buyer: Buyer, events: EventTap, mongo: Mongo, stripe_client: stripe.StripeClient
) -> None:
    price_cents = random.randint(100, 10_000_000)
    order = await buyer.open_order(price_cents=price_cents)

    response = await buyer.pay(order.id, token="pm_card_visa")

    assert response.status == 201, await response.text()
    body = await response.json()
    [record] = await payment_docs(mongo, order.id)
    assert body == {"id": str(record["_id"])}
    intent = await stripe_client.v1.payment_intents.retrieve_async(record["stripe_id"])
    assert (intent.amount, intent.currency, intent.status) == (price_cents, "usd", "succeeded")
    assert intent.metadata.to_dict() == {"order_id": order.id}
    created = await events.wait_for(PaymentCreated, lambda e: e.order_id == order.id)
    assert payload(created) == {"id": body["id"], "orderId": order.id, "stripeId": intent.id}


async def test_a_legacy_card_token_pays_too(
    buyer: Buyer, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()

    response = await buyer.pay(order.id, token="tok_visa")

    assert response.status == 201, await response.text()
    [intent] = await intents_of(stripe_client, order.id)
    assert intent.status == "succeeded"


@pytest.mark.parametrize("token", ["pm_card_chargeDeclined", "tok_chargeDeclined"])
async def test_a_declined_card_is_a_402_with_stripes_message_and_records_nothing(
    deps: Deps, buyer: Buyer, events: EventTap, mongo: Mongo, token: str
) -> None:
    order = await buyer.open_order()

    response = await buyer.pay(order.id, token=token)

    assert response.status == 402
    assert await response.json() == {"errors": [{"message": "Your card was declined."}]}
    assert await payment_docs(mongo, order.id) == []
    assert await payments_announced(deps, events, order.id) == []


async def test_after_a_decline_the_buyer_can_pay_with_another_card(
    buyer: Buyer, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()
    declined = await buyer.pay(order.id, token="pm_card_chargeDeclined")

    paid = await buyer.pay(order.id, token="pm_card_visa")

    assert (declined.status, paid.status) == (402, 201)
    [intent] = await intents_of(stripe_client, order.id)
    assert intent.status == "succeeded"


async def test_an_unknown_token_is_a_400_with_stripes_message(buyer: Buyer, mongo: Mongo) -> None:
    order = await buyer.open_order()

    response = await buyer.pay(order.id, token="pm_nonsense")

    assert response.status == 400
    message = "No such PaymentMethod: 'pm_nonsense'"
    assert await response.json() == {"errors": [{"message": message}]}
    assert await payment_docs(mongo, order.id) == []


async def test_paying_for_a_paid_order_again_is_a_400(buyer: Buyer, mongo: Mongo) -> None:
    order = await buyer.open_order()
    first = await buyer.pay(order.id)

    again = await buyer.pay(order.id, token="pm_card_mastercard")

    assert first.status == 201
    assert again.status == 400
    assert await again.json() == {"errors": [{"message": "Order has already been paid for"}]}
    assert len(await payment_docs(mongo, order.id)) == 1


@pytest.mark.parametrize(
    "tokens", [("pm_card_visa", "pm_card_visa"), ("pm_card_visa", "pm_card_mastercard")]
)
async def test_two_concurrent_payments_for_one_order_charge_once(
    deps: Deps,
    buyer: Buyer,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
    tokens: tuple[str, str],
) -> None:
    order = await buyer.open_order()

    responses = await asyncio.gather(*(buyer.pay(order.id, token=token) for token in tokens))

    statuses = sorted(r.status for r in responses)
    assert statuses in ([201, 201], [201, 400]), [await r.text() for r in responses]
    winners = {(await r.json())["id"] for r in responses if r.status == 201}
    [record] = await payment_docs(mongo, order.id)
    assert winners == {str(record["_id"])}
    [intent] = await intents_of(stripe_client, order.id)
    assert (intent.id, intent.status) == (record["stripe_id"], "succeeded")
    assert len(await payments_announced(deps, events, order.id)) == 1


async def test_a_repeat_with_the_same_idempotency_key_gets_the_first_response(
    deps: Deps, buyer: Buyer, events: EventTap, mongo: Mongo
) -> None:
    order = await buyer.open_order()
    headers = {"Idempotency-Key": "pay-attempt-1"}
    first = await buyer.pay(order.id, headers=headers)

    repeat = await buyer.pay(order.id, headers=headers)

    assert (first.status, repeat.status) == (201, 201)
    assert await repeat.json() == await first.json()
    assert len(await payment_docs(mongo, order.id)) == 1
    assert len(await payments_announced(deps, events, order.id)) == 1


async def test_an_idempotency_key_reused_for_another_order_is_refused(
    buyer: Buyer, mongo: Mongo
) -> None:
    first_order = await buyer.open_order()
    second_order = await buyer.open_order()
    headers = {"Idempotency-Key": "reused"}
    await buyer.pay(first_order.id, headers=headers)

    reused = await buyer.pay(second_order.id, headers=headers)

    assert reused.status == 400
    assert await payment_docs(mongo, second_order.id) == []


def stripe_calls(outcome: str) -> float:
    labels = {"operation": "charge", "outcome": outcome}
    return REGISTRY.get_sample_value("stripe_calls_total", labels) or 0.0


async def test_stripe_calls_are_counted_by_outcome(client: Client, buyer: Buyer) -> None:
    ok, declined = stripe_calls("ok"), stripe_calls("declined")
    order = await buyer.open_order()

    await buyer.pay(order.id, token="pm_card_chargeDeclined")
    await buyer.pay(order.id, token="pm_card_visa")

    assert (stripe_calls("ok"), stripe_calls("declined")) == (ok + 1, declined + 1)
    metrics = await (await client.get("/metrics")).text()
    assert 'stripe_calls_total{operation="charge",outcome="declined"}' in metrics
