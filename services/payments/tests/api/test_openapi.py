"""GET /api/payments/openapi.json: every route documented, every example fits its schema."""

from services.payments.tests.conftest import Client
from shared.testing.openapi import assert_complete, served_document

DOC = "/api/payments/openapi.json"


async def test_the_document_lists_every_route_and_every_example_fits(client: Client) -> None:
    document = await served_document(client, DOC)

    assert_complete(
        client,
        document,
        {"/api/payments", "/api/payments/confirm", "/api/payments/webhook"},
    )


async def test_the_payment_request_is_shown_under_its_wire_names(client: Client) -> None:
    doc = await served_document(client, DOC)

    schemas = doc["components"]["schemas"]
    assert set(schemas["CreatePaymentIn"]["properties"]) == {"orderId", "token", "returnUrl"}
    post = doc["paths"]["/api/payments"]["post"]
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]


async def test_the_3ds_answer_is_documented_as_a_202_beside_the_201(client: Client) -> None:
    doc = await served_document(client, DOC)

    for path in ("/api/payments", "/api/payments/confirm"):
        responses = doc["paths"][path]["post"]["responses"]
        assert {"201", "202", "402"} <= set(responses)
        body = responses["202"]["content"]["application/json"]
        assert body["example"]["status"] == "requires_action"
