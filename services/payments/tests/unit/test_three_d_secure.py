"""3-D Secure on the twins: a card that wants a challenge takes nothing until the buyer
passes it; then confirm_payment (or the webhook) settles the one intent, once."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.payments import service
from services.payments.domain import (
    ActionRequired,
    CannotPayCancelledOrder,
    NextAction,
    Payment,
    PaymentNotCompleted,
    PaymentStatus,
    StripeEvent,
    Unpayable,
)
from services.payments.tests.conftest import order_cancelled
from services.payments.tests.unit.test_use_cases import an_open_order, announced, replica
from services.payments.tests.unit.twins import (
    AUTHENTICATION_FAILED,
    THREE_DS_TOKEN,
    Twins,
    paid,
    twins,
)
from shared.errors import NotAuthorized, NotFound
from shared.events import OrderCreated


@pytest.fixture
def t() -> Twins:
    return twins()


async def challenged(t: Twins) -> tuple[OrderCreated, ActionRequired]:
    created = await an_open_order(t)
    waiting = await service.pay_for_order(
        created.id, THREE_DS_TOKEN, created.user_id, return_url="https://shop/back", deps=t.deps
    )
    assert isinstance(waiting, ActionRequired)
    return created, waiting


async def confirmed(t: Twins, created: OrderCreated) -> Payment:
    payment = await service.confirm_payment(created.id, created.user_id, deps=t.deps)
    assert isinstance(payment, Payment)
    return payment


def webhook(t: Twins, created: OrderCreated) -> StripeEvent:
    return StripeEvent(
        id=f"evt_{created.id}", type=service.INTENT_SUCCEEDED, intent=t.stripe.intents[created.id]
    )


async def test_a_card_that_wants_3ds_waits_for_the_buyer_and_takes_nothing(t: Twins) -> None:
    created, waiting = await challenged(t)

    assert waiting == ActionRequired(
        order_id=created.id,
        client_secret=f"pi_{created.id}_secret_x",
        next_action=NextAction("redirect_to_url", f"https://bank.example/{created.id}"),
    )
    assert await t.deps.payments.of_order(created.id) == []
    assert announced(t) == []
    assert (await replica(t, created.id)).paid_by is None


async def test_confirming_before_the_challenge_is_answered_still_waits(t: Twins) -> None:
    created, waiting = await challenged(t)

    again = await service.confirm_payment(created.id, created.user_id, deps=t.deps)

    assert again == waiting
    assert await t.deps.payments.of_order(created.id) == []


async def test_a_passed_challenge_is_kept_and_announced_once_however_often_confirmed(
    t: Twins,
) -> None:
    created, _ = await challenged(t)
    t.stripe.answer_challenge(created.id, passed=True)

    first = await confirmed(t, created)
    again = await confirmed(t, created)

    assert again == first
    assert (first.status, first.stripe_id) == (PaymentStatus.SUCCEEDED, f"pi_{created.id}")
    assert (await replica(t, created.id)).paid_by == first.id
    assert announced(t) == [first.created_event()]


async def test_the_webhook_before_the_browser_comes_back_is_the_same_one_payment(
    t: Twins,
) -> None:
    created, _ = await challenged(t)
    t.stripe.answer_challenge(created.id, passed=True)

    await service.handle_stripe_event(webhook(t, created), deps=t.deps)
    payment = await confirmed(t, created)

    assert await t.deps.payments.of_order(created.id) == [payment]
    assert announced(t) == [payment.created_event()]


async def test_the_webhook_after_the_browser_came_back_changes_nothing(t: Twins) -> None:
    created, _ = await challenged(t)
    t.stripe.answer_challenge(created.id, passed=True)
    payment = await confirmed(t, created)

    await service.handle_stripe_event(webhook(t, created), deps=t.deps)

    assert await t.deps.payments.of_order(created.id) == [payment]
    assert len(announced(t)) == 1


async def test_a_failed_challenge_is_declined_with_stripes_message_and_the_buyer_may_pay_again(
    t: Twins,
) -> None:
    created, _ = await challenged(t)
    t.stripe.answer_challenge(created.id, passed=False)

    with pytest.raises(PaymentNotCompleted) as raised:
        await service.confirm_payment(created.id, created.user_id, deps=t.deps)

    assert raised.value.message == AUTHENTICATION_FAILED
    assert await t.deps.payments.of_order(created.id) == []
    payment = await paid(t, created.id, created.user_id)
    assert payment.status is PaymentStatus.SUCCEEDED


async def test_a_challenge_passed_after_the_order_was_cancelled_is_refunded_and_refused(
    t: Twins,
) -> None:
    created, _ = await challenged(t)
    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)
    t.stripe.answer_challenge(created.id, passed=True)

    with pytest.raises(CannotPayCancelledOrder):
        await service.confirm_payment(created.id, created.user_id, deps=t.deps)

    [payment] = await t.deps.payments.of_order(created.id)
    assert (payment.status, payment.refund_reason) == (
        PaymentStatus.REFUNDED,
        Unpayable.CANCELLED,
    )
    assert t.stripe.refunds == {f"pi_{created.id}": payment.refund_id}
    assert announced(t) == []


async def test_a_challenge_passed_after_the_hold_ran_out_is_settled_not_refused(
    t: Twins,
) -> None:
    created, _ = await challenged(t)
    t.stripe.answer_challenge(created.id, passed=True)
    t.clock.advance(16 * 60)  # orders' expiry has not reached payments yet

    payment = await confirmed(t, created)

    # Kept for now: orders decides, and a cancelled order's money goes back on order.cancelled.
    assert payment.status is PaymentStatus.SUCCEEDED
    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)
    [record] = await t.deps.payments.of_order(created.id)
    assert record == replace(
        payment,
        status=PaymentStatus.REFUNDED,
        refund_reason=Unpayable.CANCELLED,
        refund_id=t.stripe.refunds[payment.stripe_id],
    )


async def test_only_the_buyer_may_confirm_and_only_a_known_order(t: Twins) -> None:
    created, _ = await challenged(t)

    with pytest.raises(NotAuthorized):
        await service.confirm_payment(created.id, "someone-else", deps=t.deps)
    with pytest.raises(NotFound):
        await service.confirm_payment("6003115eae86e60018be7b1e", created.user_id, deps=t.deps)


async def test_a_refund_before_the_challenge_was_ever_answered_asks_stripe_nothing(
    t: Twins,
) -> None:
    created, _ = await challenged(t)

    await service.apply_order_cancellation(order_cancelled(created), deps=t.deps)

    # An abandoned challenge took nothing: there is nothing to give back.
    assert t.stripe.refunds == {}
    assert await t.deps.payments.of_order(created.id) == []
