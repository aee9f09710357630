"""What the order page shows, and how prices read."""

from datetime import UTC, datetime, timedelta

import pytest

from services.client.domain import (
    Order,
    OrderStage,
    PaymentRecord,
    PaymentStatus,
    Ticket,
    money_text,
)
from shared.events import OrderStatus

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


def an_order(status: OrderStatus = OrderStatus.CREATED, expires_in_s: float = 900) -> Order:
    return Order(
        id="o1",
        status=status,
        expires_at=NOW + timedelta(seconds=expires_in_s),
        ticket=Ticket(id="t1", title="concert", price_cents=1250),
    )


@pytest.mark.parametrize(
    ("cents", "text"), [(1250, "12.50"), (500, "5.00"), (1, "0.01"), (123456, "1234.56")]
)
def test_prices_show_two_decimals(cents: int, text: str) -> None:
    assert money_text(cents) == text


def test_an_order_counts_whole_seconds_rounded_half_up_as_the_page_script_does() -> None:
    assert an_order(expires_in_s=899.6).seconds_left(NOW) == 900
    assert an_order(expires_in_s=2.5).seconds_left(NOW) == 3
    assert an_order(expires_in_s=-0.4).seconds_left(NOW) == 0
    assert an_order(expires_in_s=-0.6).seconds_left(NOW) == -1


def test_an_order_is_open_until_its_seconds_left_go_below_zero() -> None:
    assert an_order(expires_in_s=0.2).stage(NOW) is OrderStage.OPEN
    assert an_order(expires_in_s=-0.4).stage(NOW) is OrderStage.OPEN
    assert an_order(expires_in_s=-0.6).stage(NOW) is OrderStage.EXPIRED


def test_a_cancelled_order_reads_expired_once_its_hold_is_over() -> None:
    assert an_order(OrderStatus.CANCELLED, expires_in_s=-1).stage(NOW) is OrderStage.EXPIRED


def test_an_order_cancelled_before_its_hold_ended_reads_cancelled() -> None:
    assert an_order(OrderStatus.CANCELLED, expires_in_s=60).stage(NOW) is OrderStage.CANCELLED


def test_a_paid_order_reads_paid_even_after_its_hold() -> None:
    assert an_order(OrderStatus.COMPLETE, expires_in_s=-60).stage(NOW) is OrderStage.PAID


@pytest.mark.parametrize(
    ("status", "reason", "summary"),
    [
        (PaymentStatus.SUCCEEDED, None, "Paid."),
        (
            PaymentStatus.REFUNDED,
            "already_paid",
            "Refunded in full: the order had already been paid for.",
        ),
        (
            PaymentStatus.REFUNDING,
            "order_cancelled",
            "Being refunded: the order was cancelled before the payment reached it. "
            "Stripe has not confirmed the refund yet.",
        ),
        (PaymentStatus.REFUNDED, "a reason added later", "Refunded in full: it could not be kept."),
    ],
)
def test_a_payment_says_whether_it_was_kept_or_given_back_and_why(
    status: PaymentStatus, reason: str | None, summary: str
) -> None:
    assert PaymentRecord("p1", "pi_1", status, reason).summary == summary


@pytest.mark.parametrize(
    ("status", "over"),
    [
        (OrderStatus.CREATED, False),
        (OrderStatus.AWAITING_PAYMENT, False),
        (OrderStatus.CANCELLED, True),
        (OrderStatus.COMPLETE, True),
    ],
)
def test_an_order_is_over_once_paid_or_cancelled(status: OrderStatus, over: bool) -> None:
    assert an_order(status).is_over is over
