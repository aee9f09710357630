"""/api/tickets handlers: load the body, call one use case, dump the result."""

from __future__ import annotations

from aiohttp import web

from services.tickets import service
from services.tickets.api.keys import DEPS
from services.tickets.api.schemas import CreateTicketIn, TicketOut, UpdateTicketIn
from shared.auth import require_auth
from shared.web import documented, load, object_id, read_json

routes = web.RouteTableDef()

# Schemas built once: building one deep-copies its fields, a tenth of a small request's
# CPU. Loading and dumping keep no state, so one instance serves every request.
CREATE_TICKET_IN = CreateTicketIn()
TICKET_OUT = TicketOut()
TICKET_OUT_LIST = TicketOut(many=True)
UPDATE_TICKET_IN = UpdateTicketIn()

EXAMPLE_TICKET = {
    "id": "60029252cba1360018999688",
    "title": "Zoro live at the Forum",
    "price": 20,
    "userId": "5fd843a29fc5e30023bd790b",
    "version": 0,
}
EXAMPLE_RESERVED_TICKET = {
    **EXAMPLE_TICKET,
    "version": 1,
    "orderId": "6003115eae86e60018be7b1e",
}


@routes.post("/api/tickets")
@documented(
    summary="Sell a ticket",
    request=CreateTicketIn,
    response=TicketOut,
    status=201,
    errors=(400, 401, 503),
    auth="required",
    request_example={"title": "Zoro live at the Forum", "price": 20},
    response_example=EXAMPLE_TICKET,
)
async def create_ticket(request: web.Request) -> web.Response:
    user = require_auth(request)
    command: service.SellTicket = load(CREATE_TICKET_IN, await read_json(request))
    ticket = await service.create_ticket(command, user.id, deps=request.app[DEPS].get())
    return web.json_response(TICKET_OUT.dump(ticket), status=201)


@routes.get("/api/tickets")
@documented(
    summary="Tickets for sale",
    description="Only tickets no order holds.",
    response=TicketOut,
    many=True,
    errors=(503,),
    response_example=[
        EXAMPLE_TICKET,
        {**EXAMPLE_TICKET, "id": "60029252cba1360018999689", "title": "Opera", "price": 12.5},
    ],
)
async def list_tickets(request: web.Request) -> web.Response:
    tickets = await service.list_available(deps=request.app[DEPS].get())
    return web.json_response(TICKET_OUT_LIST.dump(tickets))


@routes.get("/api/tickets/{id}")
@documented(
    summary="One ticket",
    description="Shown even while an order holds it (then with orderId).",
    response=TicketOut,
    errors=(404, 503),
    response_example=EXAMPLE_RESERVED_TICKET,
)
async def show_ticket(request: web.Request) -> web.Response:
    ticket = await service.show_ticket(str(object_id(request)), deps=request.app[DEPS].get())
    return web.json_response(TICKET_OUT.dump(ticket))


@routes.put("/api/tickets/{id}")
@documented(
    summary="Change a ticket's title and price",
    description="Only its seller may, and not while an order holds it (400).",
    request=UpdateTicketIn,
    response=TicketOut,
    errors=(400, 401, 404, 409, 503),
    auth="required",
    request_example={"title": "Zoro live at the Forum", "price": 12.5},
    response_example={**EXAMPLE_TICKET, "price": 12.5, "version": 1},
)
async def update_ticket(request: web.Request) -> web.Response:
    user = require_auth(request)
    command: service.EditTicket = load(UPDATE_TICKET_IN, await read_json(request))
    ticket = await service.update_ticket(
        str(object_id(request)), command, user.id, deps=request.app[DEPS].get()
    )
    return web.json_response(TICKET_OUT.dump(ticket))
