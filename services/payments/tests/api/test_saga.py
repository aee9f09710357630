"""payments' half of the payment saga: money an order cannot keep goes back, whichever
side hears of the other last, and a refund Stripe cannot take now is made later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import pytest
import stripe

from services.payments import service
from services.payments.config import RefundSettings, Settings
from services.payments.domain import (
    AmountMismatch,
    CannotPayCancelledOrder,
    Intent,
    Payment,
)
from services.payments.service import Deps
from services.payments.tests.api.test_webhook import charge_at_stripe, deliver, intent_succeeded
from services.payments.tests.conftest import (
    Buyer,
    Client,
    ForwardingGateway,
    order_cancelled,
    payment_docs,
    payments_announced,
    publish,
    replica,
)
from shared.messaging import Publisher
from shared.mongo import Mongo
from shared.testing.events import EventTap
from shared.testing.money import at_stripe, money_violations
from shared.testing.poll import eventually
from shared.testing.relay import TcpRelay, relay_to


async def record_reaches(mongo: Mongo, order_id: str, **expected: Any) -> dict[str, Any]:
    """The order's one payment record once it has the ``expected`` field values."""

    async def matches() -> dict[str, Any] | None:
        docs = await payment_docs(mongo, order_id)
        if len(docs) == 1 and all(docs[0].get(k) == v for k, v in expected.items()):
            return docs[0]
        return None

    found: dict[str, Any] = await eventually(matches, what=f"payment of {order_id} {expected}")
    return found


async def test_a_kept_payment_is_refunded_when_its_order_is_cancelled_later(
    deps: Deps,
    buyer: Buyer,
    publisher: Publisher,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.open_order(price_cents=2500)
    assert (await buyer.pay(order.id)).status == 201

    await publish(publisher, order_cancelled(order))

    record = await record_reaches(mongo, order.id, status="refunded")
    assert record["refund_reason"] == "order_cancelled"
    assert money_violations("cancelled", await at_stripe(stripe_client, order.id)) == []
    assert len(await payments_announced(deps, events, order.id)) == 1


# A payment takes a few Stripe round trips: cancelling at these delays lands before,
# during and after it, so each side wins some.
@pytest.mark.parametrize("cancel_after_s", [0.0, 0.01, 0.02, 0.04, 0.08, 0.15])
async def test_a_cancellation_racing_a_payment_leaves_no_money_kept(
    buyer: Buyer,
    deps: Deps,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
    cancel_after_s: float,
) -> None:
    order = await buyer.open_order()

    async def cancel() -> None:
        await asyncio.sleep(cancel_after_s)
        await service.apply_order_cancellation(order_cancelled(order), deps=deps)

    paid, _ = await asyncio.gather(
        service.pay_for_order(order.id, "pm_card_visa", buyer.id, deps=deps),
        cancel(),
        return_exceptions=True,
    )

    assert isinstance(paid, Payment | CannotPayCancelledOrder), paid
    await replica(deps, order.id, status="cancelled")
    if await payment_docs(mongo, order.id):
        await record_reaches(mongo, order.id, status="refunded")
    assert money_violations("cancelled", await at_stripe(stripe_client, order.id)) == []


@dataclass
class WebhookAlongside(ForwardingGateway):
    """The real gateway, except that Stripe's webhook for the charge arrives while the
    synchronous path is still settling it."""

    deliver: Callable[[Intent], Coroutine[Any, Any, int]]
    delay_s: float
    delivered: asyncio.Task[int] | None = None

    async def charge(self, order_id: str, amount_cents: int, token: str, **_: Any) -> Intent:
        intent = await self.gateway.charge(order_id, amount_cents, token)
        self.delivered = asyncio.create_task(self.deliver(intent))
        await asyncio.sleep(self.delay_s)
        return intent


@pytest.mark.parametrize("delay_s", [0.0, 0.002, 0.01, 0.05])
async def test_the_webhook_racing_the_synchronous_confirm_keeps_one_payment(
    client: Client,
    buyer: Buyer,
    deps: Deps,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
    delay_s: float,
) -> None:
    order = await buyer.open_order()

    async def webhook(intent: Intent) -> int:
        found = await stripe_client.v1.payment_intents.retrieve_async(intent.id)
        return await deliver(client, intent_succeeded(found))

    racing = WebhookAlongside(deps.stripe, webhook, delay_s)

    payment = await service.pay_for_order(
        order.id, "pm_card_visa", buyer.id, deps=replace(deps, stripe=racing)
    )

    assert isinstance(payment, Payment)
    assert racing.delivered is not None
    assert await racing.delivered == 200
    [record] = await payment_docs(mongo, order.id)
    assert (str(record["_id"]), record["status"]) == (payment.id, "succeeded")
    assert money_violations("complete", await at_stripe(stripe_client, order.id)) == []
    assert len(await payments_announced(deps, events, order.id)) == 1


@dataclass
class ChargesTheWrongAmount(ForwardingGateway):
    """A gateway that asks Stripe for more than the order costs (a bug, say)."""

    async def charge(self, order_id: str, amount_cents: int, token: str, **_: Any) -> Intent:
        return await self.gateway.charge(order_id, amount_cents + 100, token)


async def test_a_charge_of_another_amount_is_refunded_and_refused(
    buyer: Buyer, deps: Deps, events: EventTap, mongo: Mongo, stripe_client: stripe.StripeClient
) -> None:
    order = await buyer.open_order(price_cents=2000)
    wrong = replace(deps, stripe=ChargesTheWrongAmount(deps.stripe))

    with pytest.raises(AmountMismatch):
        await service.pay_for_order(order.id, "pm_card_visa", buyer.id, deps=wrong)

    [record] = await payment_docs(mongo, order.id)
    assert (record["status"], record["refund_reason"]) == ("refunded", "amount_mismatch")
    view = await at_stripe(stripe_client, order.id)
    assert [(c.amount_cents, c.refunded_cents) for c in view.charges] == [(2100, 2100)]
    assert await payments_announced(deps, events, order.id) == []


async def test_a_webhook_for_another_amount_is_refunded_and_recorded_so(
    deps: Deps,
    client: Client,
    buyer: Buyer,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.open_order(price_cents=2000)
    intent = await charge_at_stripe(stripe_client, order.id, amount=1500)

    assert await deliver(client, intent_succeeded(intent)) == 200

    [record] = await payment_docs(mongo, order.id)
    assert (record["status"], record["refund_reason"]) == ("refunded", "amount_mismatch")
    assert money_violations("cancelled", await at_stripe(stripe_client, order.id)) == []
    assert await payments_announced(deps, events, order.id) == []


# ------------------------------------------------------------------ Stripe down


@pytest.fixture
async def stripe_relay(stripe_api_base: str) -> AsyncIterator[TcpRelay]:
    """Stands between payments and the emulator: a test cuts it to take Stripe away."""
    async with relay_to(stripe_api_base, 80) as relay:
        yield relay


@pytest.fixture
def settings(settings: Settings, stripe_relay: TcpRelay, stripe_api_base: str) -> Settings:
    """payments on the relay, sweeping for due refunds often."""
    return replace(
        settings,
        stripe=replace(settings.stripe, api_base=stripe_relay.url(stripe_api_base)),
        refunds=RefundSettings(sweep_interval_s=0.1),
    )


async def test_a_refund_while_stripe_is_down_is_made_once_stripe_is_back(
    buyer: Buyer,
    publisher: Publisher,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
    stripe_relay: TcpRelay,
) -> None:
    order = await buyer.open_order(price_cents=3000)
    assert (await buyer.pay(order.id)).status == 201
    await stripe_relay.cut()

    await publish(publisher, order_cancelled(order))

    # Tried, failed, and tried again while Stripe is away; never given up on.
    async def retried() -> bool:
        [doc] = await payment_docs(mongo, order.id)
        return bool(doc["status"] == "refunding" and doc["refund_attempts"] >= 2)

    await eventually(retried, what="refund attempts while Stripe is down")
    assert (await at_stripe(stripe_client, order.id)).kept != []

    await stripe_relay.restore()

    record = await record_reaches(mongo, order.id, status="refunded")
    assert record["refund_reason"] == "order_cancelled"
    view = await at_stripe(stripe_client, order.id)
    assert [(c.amount_cents, c.refunded_cents) for c in view.charges] == [(3000, 3000)]
    assert money_violations("cancelled", view) == []
