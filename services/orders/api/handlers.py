"""/api/orders handlers: load the body, call one use case, dump the result."""

from __future__ import annotations

from aiohttp import web

from services.orders import service
from services.orders.api.keys import DEPS
from services.orders.api.schemas import CreateOrderIn, OrderOut
from services.orders.service import PlaceOrder
from shared.auth import require_auth
from shared.web import IDEMPOTENCY_KEY, documented, idempotency_key, load, object_id, read_json

routes = web.RouteTableDef()

# Schemas built once: building one deep-copies its fields, a tenth of a small request's
# CPU. Loading and dumping keep no state, so one instance serves every request.
CREATE_ORDER_IN = CreateOrderIn()
ORDER_OUT = OrderOut()
ORDER_OUT_LIST = OrderOut(many=True)

EXAMPLE_TICKET_ID = "600310f88dab780018985931"
EXAMPLE_ORDER = {
    "id": "6003115eae86e60018be7b1e",
    "status": "created",
    "userId": "5fd843a29fc5e30023bd790b",
    "expiresAt": "2026-01-16T16:31:30.047Z",
    "ticket": {"id": EXAMPLE_TICKET_ID, "title": "Dil Dhadkane", "price": 20, "version": 0},
    "version": 0,
}


@routes.post("/api/orders")
@documented(
    summary="Reserve a ticket",
    description="The order holds the ticket until expiresAt (15 minutes), or until paid.",
    request=CreateOrderIn,
    response=OrderOut,
    status=201,
    errors=(400, 401, 404, 409, 503),
    auth="required",
    headers=(IDEMPOTENCY_KEY,),
    request_example={"ticketId": EXAMPLE_TICKET_ID},
    response_example=EXAMPLE_ORDER,
)
async def create_order(request: web.Request) -> web.Response:
    user = require_auth(request)
    command: PlaceOrder = load(CREATE_ORDER_IN, await read_json(request))
    key = idempotency_key(request, scope=f"{user.id} POST /api/orders", body=command)
    order = await service.place_order(
        command, user.id, idempotency=key, deps=request.app[DEPS].get()
    )
    return web.json_response(ORDER_OUT.dump(order), status=201)


@routes.get("/api/orders")
@documented(
    summary="My orders",
    description="Every status, cancelled ones included.",
    response=OrderOut,
    many=True,
    errors=(401, 503),
    auth="required",
    response_example=[
        EXAMPLE_ORDER,
        {
            **EXAMPLE_ORDER,
            "id": "6003115eae86e60018be7b1f",
            "status": "cancelled",
            "ticket": {
                "id": "600310f88dab780018985932",
                "title": "Opera",
                "price": 12.5,
                "version": 2,
            },
            "version": 1,
        },
    ],
)
async def list_orders(request: web.Request) -> web.Response:
    user = require_auth(request)
    orders = await service.list_orders(user.id, deps=request.app[DEPS].get())
    return web.json_response(ORDER_OUT_LIST.dump(orders))


@routes.get("/api/orders/{id}")
@documented(
    summary="One of my orders",
    description="Someone else's order is 401.",
    response=OrderOut,
    errors=(401, 404, 503),
    auth="required",
    response_example={**EXAMPLE_ORDER, "status": "complete", "version": 1},
)
async def show_order(request: web.Request) -> web.Response:
    user = require_auth(request)
    order = await service.show_order(str(object_id(request)), user.id, deps=request.app[DEPS].get())
    return web.json_response(ORDER_OUT.dump(order))


@routes.delete("/api/orders/{id}")
@documented(
    summary="Cancel my order",
    description="Frees its ticket. Cancelling twice is harmless; a paid order is 400.",
    status=204,
    errors=(400, 401, 404, 409, 503),
    auth="required",
)
async def cancel_order(request: web.Request) -> web.Response:
    user = require_auth(request)
    await service.cancel_order(str(object_id(request)), user.id, deps=request.app[DEPS].get())
    return web.Response(status=204)
