"""The API bodies the client reads: statuses become the enums the pages compare."""

import pytest
from marshmallow import ValidationError

from services.client.adapters.replies import OrderReply, PaymentRecordReply
from services.client.domain import Order, PaymentRecord, PaymentStatus
from shared.events import OrderStatus

ORDER = {
    "id": "o1",
    "status": "awaiting:payment",
    "expiresAt": "2026-12-01T12:00:00.000Z",
    "ticket": {"id": "t1", "title": "concert", "price": 12.5},
    "version": 3,  # a field the pages do not show is ignored
}


def test_an_order_reply_carries_its_status_as_the_one_order_status() -> None:
    order = OrderReply().load(ORDER)

    assert isinstance(order, Order)
    assert order.status is OrderStatus.AWAITING_PAYMENT
    assert order.ticket.price_cents == 1250


def test_an_order_status_outside_the_spec_is_an_unexpected_body() -> None:
    with pytest.raises(ValidationError):
        OrderReply().load({**ORDER, "status": "shipped"})


@pytest.mark.parametrize("status", list(PaymentStatus))
def test_a_payment_record_reply_carries_a_payment_status(status: PaymentStatus) -> None:
    record = PaymentRecordReply().load(
        {"id": "p1", "stripeId": "pi_1", "status": status.value, "refundReason": None}
    )

    assert record == PaymentRecord("p1", "pi_1", status, None)


def test_a_payment_status_the_page_cannot_describe_is_an_unexpected_body() -> None:
    # Not shown as "Paid.": payments_shown leaves the list out instead.
    with pytest.raises(ValidationError):
        PaymentRecordReply().load({"id": "p1", "stripeId": "pi_1", "status": "disputed"})
