"""POST /api/payments/webhook: signed Stripe events, handled once; late money goes back."""

import time
from typing import Any

import pytest
import stripe
from bson import ObjectId
from prometheus_client import REGISTRY

from services.payments.service import Deps
from services.payments.tests.conftest import (
    Buyer,
    Client,
    payment_docs,
    payments_announced,
    refunds_of,
    signed_webhook,
    stripe_event,
)
from shared.events import PaymentCreated
from shared.mongo import Mongo
from shared.testing.events import EventTap


async def charge_at_stripe(
    stripe_client: stripe.StripeClient, order_id: str, amount: int = 2000
) -> stripe.PaymentIntent:
    """Money Stripe took for the order without payments recording it (a crash, say)."""
    intent = await stripe_client.v1.payment_intents.create_async(
        params={"amount": amount, "currency": "usd", "metadata": {"order_id": order_id}}
    )
    return await stripe_client.v1.payment_intents.confirm_async(
        intent.id, params={"payment_method": "pm_card_visa"}
    )


def intent_succeeded(intent: stripe.PaymentIntent) -> dict[str, Any]:
    return stripe_event("payment_intent.succeeded", intent.to_dict())


async def deliver(client: Client, event: dict[str, Any], **kw: Any) -> int:
    body, signature = signed_webhook(event, **kw)
    response = await client.post(
        "/api/payments/webhook",
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    return response.status


@pytest.mark.parametrize(
    "headers",
    [{}, {"Stripe-Signature": "t=1,v1=deadbeef"}, {"Stripe-Signature": "garbage"}],
)
async def test_a_webhook_without_a_valid_signature_is_a_400(
    client: Client, headers: dict[str, str]
) -> None:
    body, _ = signed_webhook({"id": "evt_1", "type": "payment_intent.succeeded", "data": {}})

    response = await client.post(
        "/api/payments/webhook", data=body, headers={"Content-Type": "application/json", **headers}
    )

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "Invalid Stripe webhook signature or payload"}]
    }


async def test_a_webhook_signed_with_another_secret_is_a_400(
    client: Client, buyer: Buyer, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order()
    intent = await charge_at_stripe(stripe_client, order.id)

    status = await deliver(client, intent_succeeded(intent), secret="whsec_someone_else")

    assert status == 400


async def test_a_payment_the_request_never_recorded_is_recorded_from_the_webhook(
    client: Client,
    buyer: Buyer,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.open_order()
    intent = await charge_at_stripe(stripe_client, order.id)

    status = await deliver(client, intent_succeeded(intent))

    assert status == 200
    [record] = await payment_docs(mongo, order.id)
    assert (record["stripe_id"], record["status"]) == (intent.id, "succeeded")
    created = await events.wait_for(PaymentCreated, lambda e: e.order_id == order.id)
    assert (created.id, created.stripe_id) == (str(record["_id"]), intent.id)


async def test_a_replayed_webhook_event_is_handled_once(
    deps: Deps,
    client: Client,
    buyer: Buyer,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.open_order()
    event = intent_succeeded(await charge_at_stripe(stripe_client, order.id))

    statuses = [await deliver(client, event) for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert len(await payment_docs(mongo, order.id)) == 1
    assert len(await payments_announced(deps, events, order.id)) == 1


async def test_the_webhook_for_a_payment_made_through_the_api_changes_nothing(
    deps: Deps,
    client: Client,
    buyer: Buyer,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.open_order()
    paid = await buyer.pay(order.id)
    [record] = await payment_docs(mongo, order.id)
    intent = await stripe_client.v1.payment_intents.retrieve_async(record["stripe_id"])

    status = await deliver(client, intent_succeeded(intent))

    assert (paid.status, status) == (201, 200)
    assert await payment_docs(mongo, order.id) == [record]
    assert len(await payments_announced(deps, events, order.id)) == 1


async def test_a_payment_for_an_order_cancelled_meanwhile_is_refunded_and_recorded_so(
    deps: Deps,
    client: Client,
    buyer: Buyer,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.cancelled_order()
    intent = await charge_at_stripe(stripe_client, order.id, amount=3100)

    status = await deliver(client, intent_succeeded(intent))

    assert status == 200
    [refund] = await refunds_of(stripe_client, intent.id)
    assert (refund.status, refund.amount) == ("succeeded", 3100)
    [record] = await payment_docs(mongo, order.id)
    assert (record["stripe_id"], record["status"]) == (intent.id, "refunded")
    assert (record["refund_id"], record["refund_reason"]) == (refund.id, "order_cancelled")
    assert await payments_announced(deps, events, order.id) == []


async def test_a_second_charge_for_a_paid_order_is_refunded(
    deps: Deps,
    client: Client,
    buyer: Buyer,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.open_order()
    assert (await buyer.pay(order.id)).status == 201
    stray = await charge_at_stripe(stripe_client, order.id)

    status = await deliver(client, intent_succeeded(stray))

    assert status == 200
    assert len(await refunds_of(stripe_client, stray.id)) == 1
    records = {r["stripe_id"]: r for r in await payment_docs(mongo, order.id)}
    assert records[stray.id]["status"] == "refunded"
    assert records[stray.id]["refund_reason"] == "already_paid"
    assert len(await payments_announced(deps, events, order.id)) == 1


async def test_a_webhook_for_an_order_not_replicated_yet_asks_stripe_to_resend(
    client: Client, mongo: Mongo, stripe_client: stripe.StripeClient
) -> None:
    order_id = str(ObjectId())
    intent = await charge_at_stripe(stripe_client, order_id)

    status = await deliver(client, intent_succeeded(intent))

    assert status == 503
    assert await payment_docs(mongo, order_id) == []


async def test_a_failed_payment_event_records_nothing(
    client: Client, buyer: Buyer, mongo: Mongo
) -> None:
    order = await buyer.open_order()
    failed = {
        "id": "pi_failed",
        "object": "payment_intent",
        "amount": 2000,
        "status": "requires_payment_method",
        "metadata": {"order_id": order.id},
    }
    event = stripe_event("payment_intent.payment_failed", failed)

    status = await deliver(client, event)

    assert status == 200
    assert await payment_docs(mongo, order.id) == []


async def test_events_about_other_things_are_acknowledged_and_ignored(client: Client) -> None:
    event = stripe_event("customer.created", {"id": "cus_1", "object": "customer"})

    assert await deliver(client, event) == 200


def unmatched_webhooks() -> float:
    return REGISTRY.get_sample_value("stripe_webhooks_unmatched_total") or 0.0


async def test_a_webhook_for_an_order_still_unknown_an_hour_on_is_acknowledged_and_refunded(
    client: Client, mongo: Mongo, stripe_client: stripe.StripeClient
) -> None:
    order_id = str(ObjectId())
    intent = await charge_at_stripe(stripe_client, order_id, amount=1200)
    recent = {**intent_succeeded(intent), "created": int(time.time()) - 60}
    stale = {**intent_succeeded(intent), "created": int(time.time()) - 3601}
    before = unmatched_webhooks()

    assert await deliver(client, recent) == 503  # the order's events may yet come
    assert await deliver(client, stale) == 200

    [record] = await payment_docs(mongo, order_id)
    assert (record["status"], record["refund_reason"]) == ("refunded", "unknown_order")
    assert [r.amount for r in await refunds_of(stripe_client, intent.id)] == [1200]
    assert unmatched_webhooks() == before + 1
