"""/api/tickets handlers: load the body, call one use case, dump the result."""

from __future__ import annotations

from aiohttp import web

from services.tickets import service
from services.tickets.api.keys import DEPS
from services.tickets.api.schemas import CreateTicketIn, TicketOut, UpdateTicketIn
from shared.auth import require_auth
from shared.web import load, object_id, read_json

routes = web.RouteTableDef()


@routes.post("/api/tickets")
async def create_ticket(request: web.Request) -> web.Response:
    user = require_auth(request)
    body = load(CreateTicketIn(), await read_json(request))
    ticket = await service.create_ticket(
        body["title"], body["price"], user.id, deps=request.app[DEPS]
    )
    return web.json_response(TicketOut().dump(ticket), status=201)


@routes.get("/api/tickets")
async def list_tickets(request: web.Request) -> web.Response:
    tickets = await service.list_available(deps=request.app[DEPS])
    return web.json_response(TicketOut(many=True).dump(tickets))


@routes.get("/api/tickets/{id}")
async def show_ticket(request: web.Request) -> web.Response:
    ticket = await service.show_ticket(str(object_id(request)), deps=request.app[DEPS])
    return web.json_response(TicketOut().dump(ticket))


@routes.put("/api/tickets/{id}")
async def update_ticket(request: web.Request) -> web.Response:
    user = require_auth(request)
    body = load(UpdateTicketIn(), await read_json(request))
    ticket = await service.update_ticket(
        str(object_id(request)), body["title"], body["price"], user.id, deps=request.app[DEPS]
    )
    return web.json_response(TicketOut().dump(ticket))
