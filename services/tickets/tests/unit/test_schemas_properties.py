"""Any JSON object sent to create or update a ticket: a valid ticket's fields, or a 400."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.tickets.api.schemas import CreateTicketIn, UpdateTicketIn
from shared.events.fields import MAX_PRICE_CENTS, MIN_PRICE_CENTS, TITLE_MAX_LENGTH
from shared.testing.properties import bodies, load_or_400, texts

SCHEMAS = [CreateTicketIn(), UpdateTicketIn()]
amounts = st.decimals(min_value=-1, max_value=200_000, places=3) | st.integers(-1, 200_000)
LIKELY = {
    "title": texts | st.text(min_size=195, max_size=205),
    "price": amounts | amounts.map(str) | amounts.map(float),
}


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: type(schema).__name__)
@given(body=bodies({"title", "price"}, LIKELY))
def test_a_body_loads_as_a_title_and_a_price_in_bounds_or_is_a_400(
    schema: CreateTicketIn | UpdateTicketIn, body: dict[str, Any]
) -> None:
    loaded = load_or_400(schema, body)

    if loaded is not None:
        assert set(loaded) == {"title", "price_cents"}
        assert 1 <= len(loaded["title"]) <= TITLE_MAX_LENGTH
        assert loaded["title"] == loaded["title"].strip()
        assert isinstance(loaded["price_cents"], int)
        assert MIN_PRICE_CENTS <= loaded["price_cents"] <= MAX_PRICE_CENTS
