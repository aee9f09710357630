"""Any JSON object sent to pay, or any query to list payments: its fields, or a 400.

The webhook's body is Stripe's and is checked by its signature, not by a schema.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema

from services.payments.api.schemas import ConfirmPaymentIn, CreatePaymentIn, PaymentsQueryIn
from shared.testing.properties import bodies, load_or_400, texts, wire_keys

SCHEMAS = [CreatePaymentIn(), ConfirmPaymentIn(), PaymentsQueryIn()]
OPTIONAL = {"return_url"}  # absent unless sent; an URL, tested in tests/api
LIKELY = {
    "orderId": st.from_regex(r"[0-9a-fA-F]{24}", fullmatch=True) | texts,
    "token": st.sampled_from(["tok_visa", "pm_card_visa", " tok_visa "]) | texts,
}


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: type(schema).__name__)
@given(data=bodies({"orderId", "token"}, LIKELY))
def test_a_body_loads_as_non_blank_text_or_is_a_400(schema: Schema, data: dict[str, Any]) -> None:
    loaded = load_or_400(schema, data)

    if loaded is not None:
        assert len(loaded) == len(wire_keys(schema))
        for name, text in loaded.items():
            if name in OPTIONAL and text is None:
                continue
            assert isinstance(text, str)
            assert text
            assert text == text.strip()
