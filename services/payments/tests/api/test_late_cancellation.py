"""An order cancelled while Stripe charges it: the money goes back, the ticket stays put."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
import stripe

from services.payments import service
from services.payments.domain import CannotPayCancelledOrder, Intent
from services.payments.service import Deps
from services.payments.tests.conftest import (
    Buyer,
    ForwardingGateway,
    order_cancelled,
    payment_docs,
    payments_announced,
    publish,
    refunds_of,
    replica,
)
from shared.messaging import Publisher
from shared.mongo import Mongo
from shared.testing.events import EventTap


@dataclass
class CancelledWhileCharging(ForwardingGateway):
    """The real gateway, except that the order gets cancelled while Stripe charges it."""

    cancel: Callable[[], Awaitable[None]]

    async def charge(self, order_id: str, amount_cents: int, token: str, **_: Any) -> Intent:
        intent = await self.gateway.charge(order_id, amount_cents, token)
        await self.cancel()
        return intent


async def test_a_charge_for_an_order_cancelled_meanwhile_is_refunded_and_refused(
    buyer: Buyer,
    deps: Deps,
    publisher: Publisher,
    events: EventTap,
    mongo: Mongo,
    stripe_client: stripe.StripeClient,
) -> None:
    order = await buyer.open_order(price_cents=4200)

    async def cancel() -> None:
        await publish(publisher, order_cancelled(order))
        await replica(deps, order.id, status="cancelled")

    racing = replace(deps, stripe=CancelledWhileCharging(deps.stripe, cancel))

    with pytest.raises(CannotPayCancelledOrder):
        await service.pay_for_order(order.id, "pm_card_visa", buyer.id, deps=racing)

    [record] = await payment_docs(mongo, order.id)
    assert (record["status"], record["refund_reason"]) == ("refunded", "order_cancelled")
    refunds = await refunds_of(stripe_client, record["stripe_id"])
    assert [(r.id, r.amount) for r in refunds] == [(record["refund_id"], 4200)]
    assert await payments_announced(deps, events, order.id) == []
