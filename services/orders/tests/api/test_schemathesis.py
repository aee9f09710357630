"""Schemathesis against the orders service's OpenAPI document: no 500, and as documented."""

from __future__ import annotations

import asyncio

from services.orders.service import Deps
from services.orders.tests.conftest import Client, place_order, replicate_ticket
from shared.testing.api_fuzz import fuzz
from shared.testing.fixtures import Signin
from shared.testing.openapi import served_document


async def test_generated_requests_get_documented_answers_and_never_a_500(
    client: Client, deps: Deps, signin: Signin
) -> None:
    cookies = signin()
    own = await place_order(client, cookies, await replicate_ticket(deps))  # past the 404
    document = await served_document(client, "/api/orders/openapi.json")

    failures = await asyncio.to_thread(
        fuzz, document, str(client.make_url("")), cookies, {"id": own["id"]}
    )

    assert not failures, "\n\n".join(failures)
