"""The error contract every service shares: one body shape, the right status, no leaks."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from marshmallow import fields, validate

from shared.errors import BadRequest, Conflict
from shared.web import (
    HttpSettings,
    RequestSchema,
    add_readiness_check,
    base_app,
    load,
    object_id,
    read_json,
)

Client = TestClient[Any, Any]
JSON = {"Content-Type": "application/json"}


class ThingIn(RequestSchema):
    name = fields.String(required=True, error_messages={"required": "Name is required"})
    size = fields.Integer(
        required=True,
        validate=validate.Range(min=1, max=1000, error="Size must be from 1 to 1000"),
    )


routes = web.RouteTableDef()


@routes.post("/things")
async def create_thing(request: web.Request) -> web.Response:
    body = load(ThingIn(), await read_json(request))
    return web.json_response(body, status=201)


@routes.get("/things/{id}")
async def show_thing(request: web.Request) -> web.Response:
    return web.json_response({"id": str(object_id(request))})


@routes.get("/boom")
async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret internals: password=hunter2")


@routes.get("/bad")
async def bad(request: web.Request) -> web.Response:
    raise BadRequest("Ticket is already reserved")


@routes.get("/conflict")
async def conflict(request: web.Request) -> web.Response:
    raise Conflict()


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    app = base_app(HttpSettings(max_body_bytes=1024))
    app.add_routes(routes)
    return await aiohttp_client(app)


async def test_unknown_route_is_404_in_the_error_shape(client: Client) -> None:
    for method in ("GET", "POST"):
        response = await client.request(method, "/api/users/signup/adsfkdasf")

        assert response.status == 404
        assert await response.json() == {"errors": [{"message": "Not Found"}]}


async def test_wrong_method_is_405_in_the_error_shape(client: Client) -> None:
    response = await client.delete("/things")

    assert response.status == 405
    assert await response.json() == {"errors": [{"message": "Method Not Allowed"}]}
    assert "POST" in response.headers["Allow"]


async def test_an_id_that_is_not_an_object_id_is_404(client: Client) -> None:
    response = await client.get("/things/asdflkjafds")

    assert response.status == 404
    assert await response.json() == {"errors": [{"message": "Not Found"}]}


async def test_a_valid_object_id_reaches_the_handler(client: Client) -> None:
    response = await client.get("/things/5f073cc5fd21dc001a6e5f72")

    assert response.status == 200


async def test_malformed_json_is_400(client: Client) -> None:
    response = await client.post("/things", data=b'{"name": "x",', headers=JSON)

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Request body must be valid JSON"}]}


async def test_a_body_that_is_not_an_object_is_400(client: Client) -> None:
    for body in (b"[1, 2]", b'"text"', b"3", b"null"):
        response = await client.post("/things", data=body, headers=JSON)

        assert response.status == 400, body
        assert await response.json() == {
            "errors": [{"message": "Request body must be a JSON object"}]
        }


@pytest.fixture
async def roomy(aiohttp_client: Callable[..., Awaitable[Client]]) -> Client:
    """The app with the default body limit (64 KiB): room for absurd JSON."""
    app = base_app(HttpSettings())
    app.add_routes(routes)
    return await aiohttp_client(app)


def nested(levels: int) -> bytes:
    return b'{"name": "x", "size": 1, "extra": ' + b"[" * levels + b"]" * levels + b"}"


async def test_a_body_nested_deeper_than_32_levels_is_400(roomy: Client) -> None:
    fits = await roomy.post("/things", data=nested(31), headers=JSON)  # 32 with the body itself
    too_deep = await roomy.post("/things", data=nested(32), headers=JSON)
    absurd = await roomy.post("/things", data=nested(30_000), headers=JSON)

    assert fits.status == 201
    assert (too_deep.status, absurd.status) == (400, 400)
    assert await too_deep.json() == {
        "errors": [{"message": "Request body must not be nested deeper than 32 levels"}]
    }


async def test_a_number_too_long_for_python_is_a_400_from_the_schema(roomy: Client) -> None:
    body = b'{"name": "x", "size": ' + b"9" * 5000 + b"}"
    response = await roomy.post("/things", data=body, headers=JSON)

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "Size must be from 1 to 1000", "field": "size"}]
    }


async def test_a_body_over_the_limit_is_413(client: Client) -> None:
    response = await client.post("/things", json={"name": "x" * 2000, "size": 1})

    assert response.status == 413
    assert await response.json() == {"errors": [{"message": "Request body is too large"}]}


async def test_validation_errors_list_one_entry_per_field_in_order(client: Client) -> None:
    response = await client.post("/things", json={"size": 0})

    assert response.status == 400
    assert await response.json() == {
        "errors": [
            {"message": "Name is required", "field": "name"},
            {"message": "Size must be from 1 to 1000", "field": "size"},
        ]
    }


async def test_unknown_fields_are_dropped(client: Client) -> None:
    response = await client.post("/things", json={"name": "a", "size": 1, "admin": True})

    assert response.status == 201
    assert await response.json() == {"name": "a", "size": 1}


async def test_an_unexpected_error_is_a_generic_500_without_internals(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/boom")

    assert response.status == 500
    assert await response.json() == {"errors": [{"message": "Something went wrong"}]}
    assert "hunter2" in caplog.text  # the traceback is logged...
    assert "hunter2" not in await response.text()  # ...and never returned


async def test_a_domain_error_keeps_its_message_and_status(client: Client) -> None:
    bad = await client.get("/bad")
    conflict = await client.get("/conflict")

    assert bad.status == 400
    assert await bad.json() == {"errors": [{"message": "Ticket is already reserved"}]}
    assert conflict.status == 409


async def test_healthz_answers_while_readyz_reports_a_failing_dependency(
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    healthy = True

    async def broker_check() -> None:
        if not healthy:
            raise ConnectionError("broker down")

    app = base_app(HttpSettings())
    add_readiness_check(app, "broker", broker_check)
    client = await aiohttp_client(app)

    ready = await client.get("/readyz")
    healthy = False
    not_ready = await client.get("/readyz")
    alive = await client.get("/healthz")

    assert ready.status == 200
    assert (await ready.json())["checks"] == {"broker": "ok"}
    assert not_ready.status == 503
    assert (await not_ready.json())["checks"] == {"broker": "down: ConnectionError"}
    assert alive.status == 200
