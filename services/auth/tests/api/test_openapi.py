from services.auth.tests.conftest import Client
from shared.testing.openapi import assert_complete, served_document

DOC = "/api/users/openapi.json"


async def test_the_document_lists_every_route_and_every_example_fits(client: Client) -> None:
    document = await served_document(client, DOC)

    assert_complete(
        client,
        document,
        {
            "/api/users/signup",
            "/api/users/signin",
            "/api/users/signout",
            "/api/users/currentuser",
        },
    )


async def test_currentuser_documents_the_cookie_as_optional(client: Client) -> None:
    doc = await served_document(client, DOC)

    currentuser = doc["paths"]["/api/users/currentuser"]["get"]
    assert currentuser["security"] == [{}, {"session": []}]
    assert doc["components"]["securitySchemes"]["session"]["in"] == "cookie"
