"""The schemathesis harness finds what it is for: a 500, and an answer the document does not
describe. (Each service's tests run it on the real app.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from marshmallow import Schema, fields

from shared.testing.api_fuzz import fuzz
from shared.testing.openapi import served_document
from shared.web import (
    HttpSettings,
    RequestSchema,
    add_openapi,
    base_app,
    documented,
    load,
    read_json,
)

Client = TestClient[Any, Any]
DOC = "/api/things/openapi.json"


class ThingIn(RequestSchema):
    size = fields.Integer(required=True)


class ThingOut(Schema):
    size = fields.Integer(required=True)


routes = web.RouteTableDef()


def _documented(path: str) -> Callable[..., Any]:
    return documented(
        summary=f"Make a thing at {path}",
        request=ThingIn,
        response=ThingOut,
        status=201,
        errors=(400,),
        request_example={"size": 1},
        response_example={"size": 1},
    )


@routes.post("/api/things")
@_documented("/api/things")
async def create_thing(request: web.Request) -> web.Response:
    size = load(ThingIn(), await read_json(request))["size"]
    if size > 1000:
        raise OverflowError("a bug only large sizes reach")
    return web.json_response({"size": size}, status=201)


@routes.post("/api/things/odd")
@_documented("/api/things/odd")
async def create_odd_thing(request: web.Request) -> web.Response:
    size = load(ThingIn(), await read_json(request))["size"]
    return web.json_response({"size": str(size)}, status=201)  # not what ThingOut says


async def fuzzed(aiohttp_client: Callable[..., Awaitable[Client]]) -> list[str]:
    app = base_app(HttpSettings())
    app.add_routes(routes)
    add_openapi(app, DOC, title="things")
    client = await aiohttp_client(app)
    document = await served_document(client, DOC)
    return await asyncio.to_thread(fuzz, document, str(client.make_url("")), {})


async def test_a_500_and_an_undocumented_body_are_both_found(
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    failures = sorted(await fuzzed(aiohttp_client))

    assert len(failures) == 2
    assert failures[0].startswith("POST /api/things (positive)")
    assert "Server error" in failures[0]
    assert failures[1].startswith("POST /api/things/odd (positive)")
    assert "Response violates schema" in failures[1]
