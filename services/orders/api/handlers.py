"""/api/orders handlers: load the body, call one use case, dump the result."""

from __future__ import annotations

from aiohttp import web

from services.orders import service
from services.orders.api.keys import DEPS
from services.orders.api.schemas import CreateOrderIn, OrderOut
from shared.auth import require_auth
from shared.web import idempotency_key, load, object_id, read_json

routes = web.RouteTableDef()


@routes.post("/api/orders")
async def create_order(request: web.Request) -> web.Response:
    user = require_auth(request)
    body = load(CreateOrderIn(), await read_json(request))
    key = idempotency_key(request, scope=f"{user.id} POST /api/orders", body=body)
    order = await service.place_order(
        body["ticket_id"], user.id, idempotency=key, deps=request.app[DEPS]
    )
    return web.json_response(OrderOut().dump(order), status=201)


@routes.get("/api/orders")
async def list_orders(request: web.Request) -> web.Response:
    user = require_auth(request)
    orders = await service.list_orders(user.id, deps=request.app[DEPS])
    return web.json_response(OrderOut(many=True).dump(orders))


@routes.get("/api/orders/{id}")
async def show_order(request: web.Request) -> web.Response:
    user = require_auth(request)
    order = await service.show_order(str(object_id(request)), user.id, deps=request.app[DEPS])
    return web.json_response(OrderOut().dump(order))


@routes.delete("/api/orders/{id}")
async def cancel_order(request: web.Request) -> web.Response:
    user = require_auth(request)
    await service.cancel_order(str(object_id(request)), user.id, deps=request.app[DEPS])
    return web.Response(status=204)
