from typing import Any

from services.orders.tests.conftest import Client
from shared.web.openapi import example_errors, undocumented_routes

DOC = "/api/orders/openapi.json"


async def document(client: Client) -> dict[str, Any]:
    response = await client.get(DOC)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_the_openapi_document_is_served(client: Client) -> None:
    # Also shows /api/orders/{id} does not take the document's path for an id.
    response = await client.get(DOC)

    assert response.status == 200
    assert (await response.json())["openapi"].startswith("3.")


async def test_every_route_is_documented(client: Client) -> None:
    doc = await document(client)

    assert client.app is not None
    assert undocumented_routes(client.app, doc) == []
    assert set(doc["paths"]) == {"/api/orders", "/api/orders/{id}"}


async def test_every_example_fits_the_schema_the_handler_uses(client: Client) -> None:
    assert client.app is not None
    assert example_errors(client.app) == []


async def test_the_order_is_shown_under_its_wire_names(client: Client) -> None:
    doc = await document(client)

    schemas = doc["components"]["schemas"]
    assert set(schemas["CreateOrderIn"]["properties"]) == {"ticketId"}
    assert set(schemas["OrderOut"]["properties"]) == {
        "id",
        "status",
        "userId",
        "expiresAt",
        "ticket",
        "version",
    }
    assert schemas["OrderOut"]["properties"]["expiresAt"]["format"] == "date-time"
    post = doc["paths"]["/api/orders"]["post"]
    assert [p["name"] for p in post["parameters"]] == ["Idempotency-Key"]
