"""GET /api/payments/openapi.json: every route documented, every example fits its schema."""

from typing import Any

from services.payments.tests.conftest import Client
from shared.web.openapi import example_errors, undocumented_routes

DOC = "/api/payments/openapi.json"


async def document(client: Client) -> dict[str, Any]:
    response = await client.get(DOC)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_the_openapi_document_is_served(client: Client) -> None:
    assert (await document(client))["openapi"].startswith("3.")


async def test_every_route_is_documented(client: Client) -> None:
    doc = await document(client)

    assert client.app is not None
    assert undocumented_routes(client.app, doc) == []
    assert set(doc["paths"]) == {"/api/payments", "/api/payments/webhook"}


async def test_every_example_fits_the_schema_the_handler_uses(client: Client) -> None:
    assert client.app is not None
    assert example_errors(client.app) == []


async def test_the_payment_request_is_shown_under_its_wire_names(client: Client) -> None:
    doc = await document(client)

    schemas = doc["components"]["schemas"]
    assert set(schemas["CreatePaymentIn"]["properties"]) == {"orderId", "token"}
    post = doc["paths"]["/api/payments"]["post"]
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
