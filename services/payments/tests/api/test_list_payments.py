"""GET /api/payments?orderId=: what was taken for the buyer's order, and what went back."""

from __future__ import annotations

from services.payments.tests.conftest import (
    Buyer,
    Client,
    order_cancelled,
    payment_docs,
    publish,
)
from shared.messaging import Publisher
from shared.mongo import Mongo
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually


async def listed(buyer: Buyer, order_id: str) -> list[dict[str, str]]:
    response = await buyer.client.get(
        "/api/payments", params={"orderId": order_id}, cookies=buyer.cookies
    )
    assert response.status == 200, await response.text()
    payments: list[dict[str, str]] = await response.json()
    return payments


async def test_the_buyer_sees_the_payment_their_order_keeps(buyer: Buyer, mongo: Mongo) -> None:
    order = await buyer.open_order()
    assert (await buyer.pay(order.id)).status == 201
    [record] = await payment_docs(mongo, order.id)

    payments = await listed(buyer, order.id)

    assert payments == [
        {
            "id": str(record["_id"]),
            "orderId": order.id,
            "stripeId": record["stripe_id"],
            "status": "succeeded",
        }
    ]


async def test_an_order_paid_and_then_cancelled_shows_its_payment_refunded_and_why(
    buyer: Buyer, publisher: Publisher
) -> None:
    order = await buyer.open_order()
    assert (await buyer.pay(order.id)).status == 201

    await publish(publisher, order_cancelled(order))

    async def refunded() -> list[dict[str, str]] | None:
        payments = await listed(buyer, order.id)
        return payments if payments[0]["status"] == "refunded" else None

    [payment] = await eventually(refunded, what="the payment refunded")
    assert payment["refundReason"] == "order_cancelled"


async def test_an_order_without_payments_lists_none(buyer: Buyer) -> None:
    order = await buyer.open_order()

    assert await listed(buyer, order.id) == []


async def test_someone_elses_order_is_a_401(buyer: Buyer, signin: Signin) -> None:
    order = await buyer.open_order()

    response = await buyer.client.get(
        "/api/payments", params={"orderId": order.id}, cookies=signin()
    )

    assert response.status == 401


async def test_signed_out_is_a_401(client: Client, buyer: Buyer) -> None:
    order = await buyer.open_order()

    response = await client.get("/api/payments", params={"orderId": order.id})

    assert response.status == 401


async def test_an_unknown_order_is_a_404(buyer: Buyer) -> None:
    for order_id in ("6003115eae86e60018be7b1e", "not-an-id"):
        response = await buyer.client.get(
            "/api/payments", params={"orderId": order_id}, cookies=buyer.cookies
        )
        assert response.status == 404, order_id


async def test_without_an_order_id_it_is_a_400_naming_the_field(buyer: Buyer) -> None:
    response = await buyer.client.get("/api/payments", cookies=buyer.cookies)

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "Order id must be provided", "field": "orderId"}]
    }
