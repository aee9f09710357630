from services.orders.tests.conftest import Client
from shared.testing.openapi import assert_complete, served_document

DOC = "/api/orders/openapi.json"


async def test_the_document_lists_every_route_and_every_example_fits(client: Client) -> None:
    document = await served_document(client, DOC)

    assert_complete(client, document, {"/api/orders", "/api/orders/{id}"})


async def test_the_order_is_shown_under_its_wire_names(client: Client) -> None:
    doc = await served_document(client, DOC)

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
