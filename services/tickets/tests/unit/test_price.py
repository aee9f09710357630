"""The price rules, over every value JSON can carry: cents within bounds, or a 400's error."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from services.tickets.api.schemas import CreateTicketIn
from shared.events.fields import MAX_PRICE_CENTS, MIN_PRICE_CENTS

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.decimals(allow_nan=False)
    | st.text(alphabet="0123456789.-+e_ ,x"),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=5,
)


def load_price(price: Any) -> int | None:
    """The cents a price loads as, or None when the schema refuses it (a 400)."""
    try:
        command = CreateTicketIn().load({"title": "concert", "price": price})
    except ValidationError as exc:
        problems = exc.messages
    else:
        return int(command.price_cents)
    assert isinstance(problems, dict)
    assert set(problems) == {"price"}  # the error is on price, and only there
    return None


@given(json_values)
def test_any_value_is_a_price_in_bounds_or_refused_on_price(price: Any) -> None:
    cents = load_price(price)

    if cents is not None:
        assert MIN_PRICE_CENTS <= cents <= MAX_PRICE_CENTS
        assert Decimal(cents) / 100 == Decimal(str(price))  # exactly what was asked


@given(st.integers(min_value=MIN_PRICE_CENTS, max_value=MAX_PRICE_CENTS))
def test_every_price_in_bounds_is_taken_as_a_number_and_as_text(cents: int) -> None:
    text = f"{cents // 100}.{cents % 100:02d}"

    assert load_price(text) == cents
    assert load_price(json.loads(text)) == cents
