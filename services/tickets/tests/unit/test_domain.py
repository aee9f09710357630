"""Ticket's rules: every change is the next version; only the seller edits, never while held."""

from __future__ import annotations

import pytest

from services.tickets.domain import Ticket, TicketReserved
from shared.errors import NotAuthorized

TICKET = Ticket(id="t" * 24, title="concert", price_cents=2000, user_id="seller")


def test_each_change_is_the_next_version() -> None:
    edited = TICKET.edited(title="opera", price_cents=1250, by_user="seller")
    reserved = edited.reserved_for("order-1")
    released = reserved.released()

    assert [t.version for t in (TICKET, edited, reserved, released)] == [0, 1, 2, 3]
    assert (edited.title, edited.price_cents) == ("opera", 1250)
    assert (reserved.reserved, reserved.order_id) == (True, "order-1")
    assert (released.reserved, released.order_id) == (False, None)


def test_only_the_seller_edits_and_never_a_reserved_ticket() -> None:
    with pytest.raises(NotAuthorized):
        TICKET.edited(title="opera", price_cents=1250, by_user="someone else")
    with pytest.raises(TicketReserved):
        TICKET.reserved_for("order-1").edited(title="opera", price_cents=1250, by_user="seller")


def test_the_events_carry_the_version_and_the_holder() -> None:
    reserved = TICKET.reserved_for("order-1")

    assert TICKET.created_event().version == 0
    updated = reserved.updated_event()
    assert (updated.id, updated.version, updated.order_id) == (TICKET.id, 1, "order-1")
    assert updated.price_cents == 2000
