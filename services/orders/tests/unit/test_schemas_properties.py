"""Any JSON object sent to place an order: a ticket's ObjectId, or a 400."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.orders.api.schemas import CreateOrderIn
from shared.testing.properties import bodies, load_or_400

OBJECT_IDS = st.from_regex(r"[0-9a-fA-F]{24}", fullmatch=True)
LIKELY = {"ticketId": OBJECT_IDS | OBJECT_IDS.map(lambda text: f" {text}\n")}


@given(bodies({"ticketId"}, LIKELY))
def test_a_body_loads_as_a_ticket_id_or_is_a_400(body: dict[str, Any]) -> None:
    loaded = load_or_400(CreateOrderIn(), body)

    if loaded is not None:
        assert re.fullmatch(r"[0-9a-fA-F]{24}", loaded["ticket_id"])
