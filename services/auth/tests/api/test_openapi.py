from typing import Any

from services.auth.tests.conftest import Client
from shared.web.openapi import example_errors, undocumented_routes

DOC = "/api/users/openapi.json"


async def document(client: Client) -> dict[str, Any]:
    response = await client.get(DOC)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_the_openapi_document_is_served(client: Client) -> None:
    response = await client.get(DOC)

    assert response.status == 200
    assert (await response.json())["openapi"].startswith("3.")


async def test_every_route_is_documented(client: Client) -> None:
    doc = await document(client)

    assert client.app is not None
    assert undocumented_routes(client.app, doc) == []
    assert set(doc["paths"]) == {
        "/api/users/signup",
        "/api/users/signin",
        "/api/users/signout",
        "/api/users/currentuser",
    }


async def test_every_example_fits_the_schema_the_handler_uses(client: Client) -> None:
    assert client.app is not None
    assert example_errors(client.app) == []


async def test_currentuser_documents_the_cookie_as_optional(client: Client) -> None:
    doc = await document(client)

    currentuser = doc["paths"]["/api/users/currentuser"]["get"]
    assert currentuser["security"] == [{}, {"session": []}]
    assert doc["components"]["securitySchemes"]["session"]["in"] == "cookie"
