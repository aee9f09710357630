"""The payment saga's use cases on the in-memory twins: milliseconds each, no broker, no
database, no Stripe. The same behaviours run on the real ones in tests/api."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from bson import ObjectId
from prometheus_client import REGISTRY

from services.payments import listeners, service
from services.payments.domain import (
    AmountMismatch,
    CannotPayCancelledOrder,
    Intent,
    Order,
    OrderAlreadyPaid,
    OrderExpired,
    PaymentStatus,
    Unpayable,
)
from services.payments.service import UNMATCHED_WEBHOOK_AFTER, OrderNotReplicatedYet
from services.payments.tests.conftest import order_cancelled
from services.payments.tests.unit.twins import (
    DECLINED_TOKEN,
    ConflictsOnce,
    Twins,
    order_created,
    paid,
    succeeded,
    twins,
)
from shared.errors import NotAuthorized, NotFound, PaymentDeclined
from shared.events import OrderCreated, OrderStatus, PaymentCreated
from shared.idempotency import IdempotencyKey
from shared.messaging import Delivery, RetryLater


@pytest.fixture
def t() -> Twins:
    return twins()


async def an_open_order(t: Twins, price_cents: int = 2000) -> OrderCreated:
    created = order_created(price_cents=price_cents)
    await service.replicate_order(created, deps=t.deps)
    return created


async def replica(t: Twins, order_id: str) -> Order:
    order = await t.deps.orders.get(order_id)
    assert order is not None
    return order


def announced(t: Twins) -> list[PaymentCreated]:
    return [e for e in t.state.emitted if isinstance(e, PaymentCreated)]


def unmatched_count() -> float:
    return REGISTRY.get_sample_value("stripe_webhooks_unmatched_total") or 0.0


# ------------------------------------------------------------------ paying


async def test_paying_an_open_order_keeps_the_payment_and_announces_it(t: Twins) -> None:
    created = await an_open_order(t, price_cents=2500)

    payment = await paid(t, created.id, created.user_id)

    assert (payment.amount_cents, payment.status) == (2500, PaymentStatus.SUCCEEDED)
    assert (await replica(t, created.id)).paid_by == payment.id
    assert announced(t) == [payment.created_event()]


async def test_paying_again_for_a_paid_order_is_refused_before_stripe_is_asked(t: Twins) -> None:
    created = await an_open_order(t)
    await service.pay_for_order(created.id, "pm_card_visa", created.user_id, deps=t.deps)

    with pytest.raises(OrderAlreadyPaid):
        await service.pay_for_order(created.id, "pm_card_visa", created.user_id, deps=t.deps)

    assert t.stripe.charges == 1


async def test_a_repeat_under_the_same_idempotency_key_gets_the_first_payment(t: Twins) -> None:
    created = await an_open_order(t)
    key = IdempotencyKey(scope=f"{created.user_id} POST /api/payments", key="k", fingerprint="f")

    first = await paid(t, created.id, created.user_id, idempotency=key)
    again = await paid(t, created.id, created.user_id, idempotency=key)

    assert again == first
    assert t.stripe.charges == 1
    assert len(announced(t)) == 1


@pytest.mark.parametrize(
    ("payer", "error"), [("another", NotAuthorized), ("nobody", NotFound)], ids=str
)
async def test_only_the_buyer_pays_for_a_known_order(
    t: Twins, payer: str, error: type[Exception]
) -> None:
    created = await an_open_order(t)
    order_id = created.id if payer == "another" else str(ObjectId())

    with pytest.raises(error):
        await service.pay_for_order(order_id, "pm_card_visa", str(ObjectId()), deps=t.deps)

    assert t.stripe.charges == 0


async def test_an_order_whose_hold_ran_out_is_not_charged(t: Twins) -> None:
    created = await an_open_order(t)
    t.clock.advance(timedelta(minutes=15).total_seconds())

    with pytest.raises(OrderExpired):
        await service.pay_for_order(created.id, "pm_card_visa", created.user_id, deps=t.deps)

    assert t.stripe.charges == 0


async def test_a_declined_card_records_nothing(t: Twins) -> None:
    created = await an_open_order(t)

    with pytest.raises(PaymentDeclined):
        await service.pay_for_order(created.id, DECLINED_TOKEN, created.user_id, deps=t.deps)

    assert t.state.payments == {}
    assert (await replica(t, created.id)).paid_by is None


async def test_a_charge_of_another_amount_is_refunded_and_refused(t: Twins) -> None:
    created = await an_open_order(t, price_cents=2000)
    # Stripe holds an intent of another amount for the order (a bug upstream, say).
    t.stripe.intents[created.id] = Intent(f"pi_{created.id}", created.id, 2100, "succeeded")

    with pytest.raises(AmountMismatch):
        await service.pay_for_order(created.id, "pm_card_visa", created.user_id, deps=t.deps)

    [payment] = await t.deps.payments.of_order(created.id)
    assert (payment.status, payment.refund_reason) == (
        PaymentStatus.REFUNDED,
        Unpayable.AMOUNT_MISMATCH,
    )
    assert announced(t) == []


# ------------------------------------------------------------------ order.cancelled


async def test_a_cancellation_at_the_next_version_cancels_the_replica(t: Twins) -> None:
    created = await an_open_order(t)

    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)

    order = await replica(t, created.id)
    assert (order.status, order.version) == (OrderStatus.CANCELLED, 1)


async def test_a_cancellation_refunds_the_payment_its_order_kept(t: Twins) -> None:
    created = await an_open_order(t)
    kept = await paid(t, created.id, created.user_id)

    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)

    [payment] = await t.deps.payments.of_order(created.id)
    assert payment == replace(
        kept,
        status=PaymentStatus.REFUNDED,
        refund_reason=Unpayable.CANCELLED,
        refund_id=t.stripe.refunds[kept.stripe_id],
    )


async def test_paying_for_a_cancelled_order_is_refused_before_stripe_is_asked(t: Twins) -> None:
    created = await an_open_order(t)
    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)

    with pytest.raises(CannotPayCancelledOrder):
        await service.pay_for_order(created.id, "pm_card_visa", created.user_id, deps=t.deps)

    assert t.stripe.charges == 0


@pytest.mark.parametrize("known", [False, True], ids=["order-unknown", "version-skipped"])
async def test_a_cancellation_that_comes_early_is_retried_later(t: Twins, known: bool) -> None:
    created = order_created()
    if known:
        await service.replicate_order(created, deps=t.deps)

    with pytest.raises(RetryLater):
        await service.apply_order_cancellation(order_cancelled(created, version=2), deps=t.deps)

    order = await t.deps.orders.get(created.id)
    assert order is None or (order.status, order.version) == (OrderStatus.CREATED, 0)


async def test_a_cancellation_seen_before_changes_nothing(t: Twins) -> None:
    created = await an_open_order(t)
    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)
    before = t.state.orders.copy()

    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)
    await service.replicate_order(created, deps=t.deps)  # a stale create, too

    assert t.state.orders == before


async def test_the_listeners_apply_order_events_as_the_consumer_delivers_them(t: Twins) -> None:
    created = order_created()
    delivery = Delivery(message_id="m1", routing_key="order.created", attempt=1, headers={})

    await listeners.on_order_created(created, delivery, deps=t.deps)
    await listeners.on_order_cancelled(order_cancelled(created), delivery, deps=t.deps)

    assert (await replica(t, created.id)).status == OrderStatus.CANCELLED


# ------------------------------------------------------------------ refunds


async def test_a_refund_while_stripe_is_down_is_made_by_the_sweep_once_it_is_back(
    t: Twins,
) -> None:
    created = await an_open_order(t)
    await service.pay_for_order(created.id, "pm_card_visa", created.user_id, deps=t.deps)
    t.stripe.down = True

    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)
    [waiting] = await t.deps.payments.of_order(created.id)
    t.stripe.down = False
    early = await service.retry_refunds(deps=t.deps)  # not due yet: backing off
    t.clock.advance(1)
    done = await service.retry_refunds(deps=t.deps)

    assert (waiting.status, waiting.refund_attempts) == (PaymentStatus.REFUNDING, 1)
    assert (early, done) == (0, 1)
    [payment] = await t.deps.payments.of_order(created.id)
    assert payment.status is PaymentStatus.REFUNDED


# ------------------------------------------------------------------ webhooks


async def test_a_webhook_event_is_handled_once(t: Twins) -> None:
    created = await an_open_order(t)
    event = succeeded(await replica(t, created.id))

    await service.handle_stripe_event(event, deps=t.deps)
    await service.handle_stripe_event(event, deps=t.deps)

    [payment] = await t.deps.payments.of_order(created.id)
    assert payment.kept
    assert announced(t) == [payment.created_event()]


async def test_a_webhook_for_an_order_not_known_yet_is_answered_later(t: Twins) -> None:
    unknown = Order(str(ObjectId()), str(ObjectId()), 2000, OrderStatus.CREATED, 0)

    with pytest.raises(OrderNotReplicatedYet):
        await service.handle_stripe_event(succeeded(unknown), deps=t.deps)

    assert t.state.payments == {}


async def test_a_webhook_for_an_order_still_unknown_long_after_is_refunded_and_counted_once(
    t: Twins,
) -> None:
    unknown = Order(str(ObjectId()), str(ObjectId()), 2000, OrderStatus.CREATED, 0)
    old = succeeded(unknown, age_s=UNMATCHED_WEBHOOK_AFTER.total_seconds() + 1)
    racing = ConflictsOnce(t.deps.uow)
    before = unmatched_count()

    await service.handle_stripe_event(old, deps=replace(t.deps, uow=racing))

    assert racing.conflicted  # the transaction that records it ran twice
    assert unmatched_count() - before == 1
    [payment] = await t.deps.payments.of_order(unknown.id)
    assert (payment.status, payment.refund_reason) == (
        PaymentStatus.REFUNDED,
        Unpayable.UNKNOWN_ORDER,
    )


async def test_the_webhook_and_the_buyer_settling_one_intent_record_one_payment(
    t: Twins,
) -> None:
    created = await an_open_order(t)
    payment = await paid(t, created.id, created.user_id)
    order = await replica(t, created.id)
    event = replace(succeeded(order), intent=t.stripe.intents[created.id])

    await service.handle_stripe_event(event, deps=t.deps)

    assert await t.deps.payments.of_order(created.id) == [payment]
    assert len(announced(t)) == 1
