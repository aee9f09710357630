from services.tickets.tests.conftest import Client
from shared.testing.openapi import assert_complete, served_document

DOC = "/api/tickets/openapi.json"


async def test_the_document_lists_every_route_and_every_example_fits(client: Client) -> None:
    document = await served_document(client, DOC)

    assert_complete(client, document, {"/api/tickets", "/api/tickets/{id}"})


async def test_the_ticket_is_shown_under_its_wire_names(client: Client) -> None:
    schemas = (await served_document(client, DOC))["components"]["schemas"]

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
