"""The rules: who may pay, when an order can keep money, how versions apply."""

from dataclasses import replace
from typing import Any

import pytest

from services.payments.domain import (
    CannotPayCancelledOrder,
    Order,
    OrderAlreadyPaid,
    Unpayable,
    VersionStep,
)
from shared.errors import NotAuthorized


def an_order(**overrides: Any) -> Order:
    order = Order(id="o1", user_id="buyer", price_cents=2000, status="created", version=0)
    return replace(order, **overrides)


@pytest.mark.parametrize(
    ("version", "step"),
    [(4, VersionStep.NEXT), (3, VersionStep.SEEN), (1, VersionStep.SEEN), (5, VersionStep.EARLY)],
)
def test_an_event_applies_only_at_the_next_version(version: int, step: VersionStep) -> None:
    assert an_order(version=3).step_for(version) is step


def test_cancelling_makes_the_next_version() -> None:
    assert an_order(version=2).cancelled() == an_order(version=3, status="cancelled")


def test_the_buyer_may_pay_an_open_unpaid_order() -> None:
    an_order().check_payable("buyer", paid=False)


def test_only_the_buyer_may_pay() -> None:
    with pytest.raises(NotAuthorized):
        an_order().check_payable("someone else", paid=False)


def test_a_cancelled_order_cannot_be_paid() -> None:
    with pytest.raises(CannotPayCancelledOrder, match="Cannot pay for an cancelled order"):
        an_order(status="cancelled").check_payable("buyer", paid=False)


@pytest.mark.parametrize(("status", "paid"), [("created", True), ("complete", False)])
def test_a_paid_order_cannot_be_paid_again(status: str, paid: bool) -> None:
    with pytest.raises(OrderAlreadyPaid):
        an_order(status=status).check_payable("buyer", paid=paid)


def test_money_for_an_open_unpaid_order_is_kept_and_otherwise_goes_back() -> None:
    assert an_order().unpayable_because(paid=False) is None
    assert an_order(status="cancelled").unpayable_because(paid=True) is Unpayable.CANCELLED
    assert an_order().unpayable_because(paid=True) is Unpayable.ALREADY_PAID
