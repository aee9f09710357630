"""GET /api/payments/openapi.json: every route documented, every example fits its schema."""

from services.payments.tests.conftest import Client
from shared.testing.openapi import assert_complete, served_document

DOC = "/api/payments/openapi.json"


async def test_the_document_lists_every_route_and_every_example_fits(client: Client) -> None:
    document = await served_document(client, DOC)

    assert_complete(client, document, {"/api/payments", "/api/payments/webhook"})


async def test_the_payment_request_is_shown_under_its_wire_names(client: Client) -> None:
    doc = await served_document(client, DOC)

    schemas = doc["components"]["schemas"]
    assert set(schemas["CreatePaymentIn"]["properties"]) == {"orderId", "token"}
    post = doc["paths"]["/api/payments"]["post"]
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
