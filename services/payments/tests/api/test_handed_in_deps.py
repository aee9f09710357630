"""The HTTP app on dependencies a test hands in (``create_app(settings, deps=...)``): the
handlers, schemas and error shape over the in-memory twins, with no broker and no Stripe."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.payments import service
from services.payments.api.app import create_app
from services.payments.config import Settings
from services.payments.tests.conftest import Client
from services.payments.tests.unit.twins import Twins, order_created, twins
from shared.testing.fixtures import Signin
from shared.testing.services import opened


@pytest.fixture
def t() -> Twins:
    return twins()


@pytest.fixture
async def on_twins(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, t: Twins
) -> Client:
    return await opened(await aiohttp_client(create_app(settings, deps=t.deps)))


async def test_paying_over_http_keeps_the_payment_in_the_handed_in_deps(
    on_twins: Client, t: Twins, signin: Signin
) -> None:
    created = order_created()
    await service.replicate_order(created, deps=t.deps)
    cookies = signin(created.user_id)
    body = {"orderId": created.id, "token": "pm_card_visa"}
    keyed: dict[str, Any] = {"headers": {"Idempotency-Key": "k1"}, "cookies": cookies}

    paid = await on_twins.post("/api/payments", json=body, **keyed)
    again = await on_twins.post("/api/payments", json=body, **keyed)
    listed = await on_twins.get(f"/api/payments?orderId={created.id}", cookies=cookies)

    assert (paid.status, again.status, listed.status) == (201, 201, 200)
    [payment] = await t.deps.payments.of_order(created.id)
    assert (await paid.json()) == (await again.json()) == {"id": payment.id}
    assert [p["id"] for p in await listed.json()] == [payment.id]
    assert t.stripe.charges == 1


async def test_a_blank_order_id_is_a_400_in_the_standard_shape(
    on_twins: Client, signin: Signin
) -> None:
    response = await on_twins.post(
        "/api/payments", json={"orderId": " ", "token": "tok_visa"}, cookies=signin()
    )

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "Order id must be provided", "field": "orderId"}]
    }
