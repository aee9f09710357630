"""The rules: who may pay, when an order can keep money, how a payment goes back.

Which order version applies is shared.replica's rule (shared/tests/test_replica.py)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.payments.domain import (
    CannotPayCancelledOrder,
    Intent,
    Order,
    OrderAlreadyPaid,
    OrderExpired,
    Payment,
    PaymentStatus,
    Unpayable,
)
from shared.errors import NotAuthorized
from shared.events import OrderStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def an_order(**overrides: Any) -> Order:
    order = Order(
        id="o1",
        user_id="buyer",
        price_cents=2000,
        status=OrderStatus.CREATED,
        version=0,
        expires_at=NOW + timedelta(minutes=15),
    )
    return replace(order, **overrides)


def test_cancelling_makes_the_next_version() -> None:
    assert an_order(version=2).cancelled() == an_order(version=3, status=OrderStatus.CANCELLED)


def test_the_buyer_may_pay_an_open_unpaid_order() -> None:
    order = an_order()

    # Nothing would make it give the money back, and the buyer, in time, is not refused.
    assert order.unpayable_because() is None
    order.check_payable("buyer", NOW)


def test_only_the_buyer_may_pay() -> None:
    with pytest.raises(NotAuthorized):
        an_order().check_payable("someone else", NOW)


def test_a_cancelled_order_cannot_be_paid() -> None:
    with pytest.raises(CannotPayCancelledOrder, match="Cannot pay for an cancelled order"):
        an_order(status=OrderStatus.CANCELLED).check_payable("buyer", NOW)


@pytest.mark.parametrize("overrides", [{"paid_by": "p1"}, {"status": OrderStatus.COMPLETE}])
def test_a_paid_order_cannot_be_paid_again(overrides: dict[str, Any]) -> None:
    with pytest.raises(OrderAlreadyPaid):
        an_order(**overrides).check_payable("buyer", NOW)


def test_an_order_whose_hold_ran_out_cannot_be_paid_even_before_orders_cancels_it() -> None:
    order = an_order(expires_at=NOW)

    with pytest.raises(OrderExpired, match="Order has expired"):
        order.check_payable("buyer", NOW)
    order.check_payable("buyer", NOW - timedelta(milliseconds=1))


def an_intent(**overrides: Any) -> Intent:
    intent = Intent(id="pi_1", order_id="o1", amount_cents=2000, status="succeeded")
    return replace(intent, **overrides)


def test_money_for_an_open_unpaid_order_is_kept_and_otherwise_goes_back() -> None:
    assert an_order().unpayable_because(an_intent()) is None
    cancelled = an_order(status=OrderStatus.CANCELLED, paid_by="p1")
    assert cancelled.unpayable_because(an_intent()) is Unpayable.CANCELLED
    assert an_order(paid_by="p1").unpayable_because(an_intent()) is Unpayable.ALREADY_PAID


@pytest.mark.parametrize("overrides", [{"amount_cents": 1999}, {"currency": "eur"}])
def test_money_that_is_not_the_orders_amount_goes_back(overrides: dict[str, Any]) -> None:
    assert an_order().unpayable_because(an_intent(**overrides)) is Unpayable.AMOUNT_MISMATCH


def a_payment() -> Payment:
    return Payment(id="p1", order_id="o1", stripe_id="pi_1", amount_cents=2000)


def test_a_refund_is_due_at_once_and_backs_off_after_each_failure() -> None:
    refunding = a_payment().to_refund(Unpayable.CANCELLED, NOW)
    assert (refunding.status, refunding.next_refund_at) == (PaymentStatus.REFUNDING, NOW)
    delays, payment = [], refunding
    for _ in range(11):
        payment = payment.refund_failed(NOW)
        assert payment.next_refund_at is not None
        delays.append((payment.next_refund_at - NOW) / timedelta(seconds=1))
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert payment.status is PaymentStatus.REFUNDING  # never given up on


def test_a_confirmed_refund_ends_the_payment_refunded() -> None:
    refunded = a_payment().to_refund(Unpayable.CANCELLED, NOW).refunded_by("re_1")
    assert (refunded.status, refunded.refund_id, refunded.next_refund_at) == (
        PaymentStatus.REFUNDED,
        "re_1",
        None,
    )
    assert refunded.refund_reason is Unpayable.CANCELLED
