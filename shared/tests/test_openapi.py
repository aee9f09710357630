"""The OpenAPI document: built from the handlers' schemas, served, and checked for drift."""

import importlib.metadata
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from marshmallow import Schema, fields

from shared.events import Money, UtcDateTime
from shared.testing.openapi import example_errors, served_document, undocumented_routes
from shared.web import (
    HttpSettings,
    RequestSchema,
    add_openapi,
    base_app,
    documented,
    load,
    object_id,
    read_json,
)
from shared.web.openapi import (
    ERROR_DOCS,
    ErrorResponse,
    Operation,
    openapi_document,
)

Client = TestClient[Any, Any]
DOC = "/api/things/openapi.json"


class ThingIn(RequestSchema):
    name = fields.String(required=True)
    size_cm = fields.Integer(required=True, data_key="sizeCm")


class ThingOut(Schema):
    id = fields.String()
    name = fields.String()
    sizeCm = fields.Integer(attribute="size_cm")
    price = Money(attribute="price_cents")
    madeAt = UtcDateTime(attribute="made_at")


THING_IN = {"name": "lamp", "sizeCm": 30}
THING_OUT = {
    "id": "60029252cba1360018999688",
    "name": "lamp",
    "sizeCm": 30,
    "price": 12.5,
    "madeAt": "2026-01-16T16:31:30.047Z",
}

routes = web.RouteTableDef()


@routes.post("/api/things")
@documented(
    summary="Make a thing",
    request=ThingIn,
    response=ThingOut,
    status=201,
    errors=(400, 401),
    auth="required",
    request_example=THING_IN,
    response_example=THING_OUT,
)
async def create_thing(request: web.Request) -> web.Response:
    body = load(ThingIn(), await read_json(request))
    return web.json_response({"name": body["name"], "sizeCm": body["size_cm"]}, status=201)


@routes.get("/api/things")
@documented(
    summary="Every thing",
    response=ThingOut,
    many=True,
    auth="optional",
    response_example=[THING_OUT],
)
async def list_things(request: web.Request) -> web.Response:
    return web.json_response([])


@routes.delete("/api/things/{id}")
@documented(summary="Throw a thing away", status=204, errors=(404,))
async def delete_thing(request: web.Request) -> web.Response:
    object_id(request)
    return web.Response(status=204)


def things_app() -> web.Application:
    app = base_app(HttpSettings(max_body_bytes=1024))
    app.add_routes(routes)
    add_openapi(app, DOC, title="things")
    return app


def app_with(operation: Operation, method: str = "POST") -> web.Application:
    """An app with one route, documented by ``operation``."""

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    app = base_app(HttpSettings())
    app.router.add_route(method, "/api/things", operation(handler))
    return app


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    return await aiohttp_client(things_app())


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    return await served_document(client, DOC)


async def test_the_document_is_served_as_openapi_3_json(client: Client) -> None:
    response = await client.get(DOC)

    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["openapi"].startswith("3.")
    assert body["info"] == {"title": "things", "version": importlib.metadata.version("ticketing")}


async def test_documented_routes_are_listed_and_probes_metrics_and_the_document_are_not(
    document: dict[str, Any],
) -> None:
    assert {path: set(ops) - {"parameters"} for path, ops in document["paths"].items()} == {
        "/api/things": {"post", "get"},
        "/api/things/{id}": {"delete"},
    }


async def test_bodies_are_the_handlers_schemas_under_their_wire_names(
    document: dict[str, Any],
) -> None:
    post = document["paths"]["/api/things"]["post"]
    schemas = document["components"]["schemas"]

    request = post["requestBody"]["content"]["application/json"]
    assert request == {"schema": {"$ref": "#/components/schemas/ThingIn"}, "example": THING_IN}
    assert set(schemas["ThingIn"]["properties"]) == {"name", "sizeCm"}  # data_key
    assert schemas["ThingIn"]["required"] == ["name", "sizeCm"]
    created = post["responses"]["201"]["content"]["application/json"]
    assert created == {"schema": {"$ref": "#/components/schemas/ThingOut"}, "example": THING_OUT}
    assert schemas["ThingOut"]["properties"] == {  # camelCase names with attribute=
        "id": {"type": "string"},
        "name": {"type": "string"},
        "sizeCm": {"type": "integer"},
        "price": {"type": "number"},
        "madeAt": {"type": "string", "format": "date-time"},
    }


async def test_a_list_response_is_an_array_of_the_schema(document: dict[str, Any]) -> None:
    listed = document["paths"]["/api/things"]["get"]["responses"]["200"]

    assert listed["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ThingOut"},
    }


async def test_a_204_has_no_body_and_the_path_id_is_an_object_id(
    document: dict[str, Any],
) -> None:
    path = document["paths"]["/api/things/{id}"]

    assert path["delete"]["responses"]["204"] == {"description": "No Content"}
    [parameter] = path["parameters"]
    assert parameter["in"] == "path"
    assert parameter["name"] == "id"
    assert parameter["required"] is True
    assert parameter["schema"] == {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"}


async def test_errors_share_one_schema_with_the_messages_the_platform_sends(
    document: dict[str, Any],
) -> None:
    responses = document["paths"]["/api/things"]["post"]["responses"]

    # 413: every body is capped by base_app, so every operation with one can get it; 415:
    # base_app takes only JSON bodies; 403: nor a state change from another site.
    assert set(responses) == {"201", "400", "401", "403", "413", "415"}
    unauthorized = responses["401"]["content"]["application/json"]
    assert unauthorized["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert unauthorized["example"] == {"errors": [{"message": "Not Authorized"}]}
    error = document["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["errors"]


async def test_error_bodies_the_middleware_sends_fit_the_documented_schema(
    client: Client,
) -> None:
    invalid = await client.post("/api/things", json={"name": "lamp"})
    not_found = await client.delete("/api/things/nope")

    assert invalid.status == 400
    assert ErrorResponse().validate(await invalid.json()) == {}
    assert not_found.status == 404
    assert ErrorResponse().validate(await not_found.json()) == {}


async def test_the_400_example_is_what_the_operation_answers_an_empty_body_with(
    client: Client, document: dict[str, Any]
) -> None:
    bad_request = document["paths"]["/api/things"]["post"]["responses"]["400"]

    answer = await client.post("/api/things", json={})

    assert bad_request["content"]["application/json"]["example"] == await answer.json()


def test_every_fixed_error_example_fits_the_error_schema() -> None:
    for status, error in ERROR_DOCS.items():
        if error.example is not None:
            assert ErrorResponse().validate(error.example) == {}, status


async def test_the_session_cookie_is_the_security_scheme(document: dict[str, Any]) -> None:
    things = document["paths"]["/api/things"]

    assert document["components"]["securitySchemes"]["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "Set by POST /api/users/signup and /signin; holds the signed JWT",
    }
    assert things["post"]["security"] == [{"session": []}]
    assert things["get"]["security"] == [{}, {"session": []}]  # optional
    assert "security" not in document["paths"]["/api/things/{id}"]["delete"]


async def test_a_fully_documented_app_has_nothing_to_report(
    client: Client, document: dict[str, Any]
) -> None:
    assert client.app is not None
    assert undocumented_routes(client.app, document) == []
    assert example_errors(client.app) == []


def test_a_route_without_documentation_is_left_out_and_reported() -> None:
    app = things_app()

    async def bare(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_put("/api/things/{id}", bare)
    document = openapi_document(app, title="things", version="1")

    assert "put" not in document["paths"]["/api/things/{id}"]
    assert undocumented_routes(app, document) == ["PUT /api/things/{id}"]


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        pytest.param(
            Operation(summary="s", request=ThingIn, request_example={"name": "lamp"}),
            "POST /api/things: request example: {'sizeCm': ['Missing data for required field.']}",
            id="request missing a required field",
        ),
        pytest.param(
            Operation(summary="s", request=ThingIn, request_example={**THING_IN, "size": 3}),
            "POST /api/things: request example: {'size': ['Unknown field.']}",
            id="request with a field the schema would drop",
        ),
        pytest.param(
            Operation(summary="s", response=ThingOut, response_example={"size_cm": 30}),
            "POST /api/things: response example: {'size_cm': ['Unknown field.']}",
            id="response under the attribute name, not the wire name",
        ),
        pytest.param(
            Operation(summary="s", response=ThingOut, response_example={"price": "cheap"}),
            "POST /api/things: response example: {'price': ['Not a valid price: must be a "
            "number.']}",
            id="response with a wrong type",
        ),
        pytest.param(
            Operation(summary="s", response=ThingOut, many=True, response_example=THING_OUT),
            "POST /api/things: response example: {'_schema': ['Invalid input type.']}",
            id="one object where the response is a list",
        ),
        pytest.param(
            Operation(summary="s", request=ThingIn),
            "POST /api/things: no request example",
            id="request without an example",
        ),
    ],
)
def test_a_missing_or_wrong_example_is_reported(operation: Operation, problem: str) -> None:
    assert example_errors(app_with(operation)) == [problem]


def test_an_undocumented_error_status_is_refused_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="418"):
        Operation(summary="s", errors=(418,))


def test_an_example_without_its_schema_is_refused_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="request schema"):
        Operation(summary="s", request_example={"name": "lamp"})
