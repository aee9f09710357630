from typing import Any

from services.tickets.tests.conftest import Client
from shared.web.openapi import example_errors, undocumented_routes

DOC = "/api/tickets/openapi.json"


async def document(client: Client) -> dict[str, Any]:
    response = await client.get(DOC)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_the_openapi_document_is_served(client: Client) -> None:
    # Also shows /api/tickets/{id} does not take the document's path for an id.
    response = await client.get(DOC)

    assert response.status == 200
    assert (await response.json())["openapi"].startswith("3.")


async def test_every_route_is_documented(client: Client) -> None:
    doc = await document(client)

    assert client.app is not None
    assert undocumented_routes(client.app, doc) == []
    assert set(doc["paths"]) == {"/api/tickets", "/api/tickets/{id}"}


async def test_every_example_fits_the_schema_the_handler_uses(client: Client) -> None:
    assert client.app is not None
    assert example_errors(client.app) == []


async def test_the_ticket_is_shown_under_its_wire_names(client: Client) -> None:
    schemas = (await document(client))["components"]["schemas"]

    assert set(schemas["TicketOut"]["properties"]) == {
        "id",
        "title",
        "price",
        "userId",
        "version",
        "orderId",
    }
    assert schemas["TicketOut"]["properties"]["price"]["type"] == "number"
    assert schemas["CreateTicketIn"]["properties"]["price"]["type"] == "number"
