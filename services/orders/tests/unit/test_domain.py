"""orders' domain rules, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.orders.domain import (
    CannotOrderOwnTicket,
    Order,
    PaidOrderCannotBeCancelled,
    Ticket,
)
from shared.events import OrderStatus, TicketUpdated
from shared.replica import VersionStep

NOW = datetime(2026, 1, 16, 16, 0, 0, 123456, tzinfo=UTC)
TICKET = Ticket(id="t1", title="concert", price_cents=2000, version=3, seller_id="seller")


def an_order(status: OrderStatus = OrderStatus.CREATED) -> Order:
    order = Order.place(order_id="o1", user_id="buyer", ticket=TICKET, now=NOW, hold_s=900)
    return replace(order, status=status)


def an_update(version: int) -> TicketUpdated:
    return TicketUpdated(id="t1", version=version, title="moved", price_cents=99, user_id="s2")


def test_a_placed_order_holds_the_ticket_until_the_hold_runs_out_in_utc_milliseconds() -> None:
    in_paris = NOW.astimezone(timezone(timedelta(hours=1)))
    order = Order.place(order_id="o1", user_id="buyer", ticket=TICKET, now=in_paris, hold_s=900)

    assert (order.status, order.version) == (OrderStatus.CREATED, 0)
    assert order.expires_at == datetime(2026, 1, 16, 16, 15, 0, 123000, tzinfo=UTC)
    assert order.expires_at.utcoffset() == timedelta(0)


def test_a_seller_cannot_order_their_own_ticket() -> None:
    TICKET.check_orderable_by("buyer")
    with pytest.raises(CannotOrderOwnTicket):
        TICKET.check_orderable_by("seller")


@pytest.mark.parametrize(
    ("version", "step"),
    [(4, VersionStep.NEXT), (3, VersionStep.SEEN), (1, VersionStep.SEEN), (5, VersionStep.EARLY)],
)
def test_the_replica_takes_only_the_next_version(version: int, step: VersionStep) -> None:
    assert TICKET.step_for(an_update(version)) is step


def test_the_replica_at_the_next_version_copies_the_event() -> None:
    assert TICKET.at_version(an_update(4)) == Ticket(
        id="t1", title="moved", price_cents=99, version=4, seller_id="s2"
    )


def test_cancelling_and_completing_make_the_next_version() -> None:
    assert (an_order().cancelled().status, an_order().cancelled().version) == (
        OrderStatus.CANCELLED,
        1,
    )
    assert (an_order().completed().status, an_order().completed().version) == (
        OrderStatus.COMPLETE,
        1,
    )


def test_a_paid_order_is_never_cancelled() -> None:
    with pytest.raises(PaidOrderCannotBeCancelled):
        an_order(OrderStatus.COMPLETE).cancelled()


@pytest.mark.parametrize(
    ("status", "settled"),
    [
        (OrderStatus.CREATED, False),
        (OrderStatus.CANCELLED, True),
        (OrderStatus.COMPLETE, True),
    ],
)
def test_only_paid_or_cancelled_orders_are_settled(status: OrderStatus, settled: bool) -> None:
    assert an_order(status).settled is settled


def test_only_a_created_order_past_its_expiry_is_overdue() -> None:
    order = an_order()
    assert not order.is_overdue(order.expires_at - timedelta(milliseconds=1))
    assert order.is_overdue(order.expires_at)
    assert not an_order(OrderStatus.COMPLETE).is_overdue(order.expires_at)


def test_the_events_carry_the_order_and_its_ticket() -> None:
    order = an_order()
    created = order.created_event()
    cancelled = order.cancelled().cancelled_event()

    assert (created.id, created.status, created.user_id) == ("o1", OrderStatus.CREATED, "buyer")
    assert (created.ticket.id, created.ticket.price_cents, created.expires_at) == (
        "t1",
        2000,
        order.expires_at,
    )
    assert (cancelled.id, cancelled.version, cancelled.ticket.id) == ("o1", 1, "t1")
