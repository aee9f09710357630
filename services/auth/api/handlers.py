"""/api/users handlers: load the body, call one use case, dump the result."""

from __future__ import annotations

from aiohttp import web

from services.auth import service
from services.auth.api.keys import DEPS
from services.auth.api.schemas import CurrentUserOut, SignInIn, SignUpIn, UserOut
from shared.auth import current_user, sign_in, sign_out
from shared.web import load, read_json

routes = web.RouteTableDef()


@routes.post("/api/users/signup")
async def signup(request: web.Request) -> web.Response:
    body = load(SignUpIn(), await read_json(request))
    result = await service.sign_up(body["email"], body["password"], deps=request.app[DEPS])
    await sign_in(request, result.token)
    return web.json_response(UserOut().dump(result.user), status=201)


@routes.post("/api/users/signin")
async def signin(request: web.Request) -> web.Response:
    body = load(SignInIn(), await read_json(request))
    result = await service.sign_in(body["email"], body["password"], deps=request.app[DEPS])
    await sign_in(request, result.token)
    return web.json_response(UserOut().dump(result.user))


@routes.post("/api/users/signout")
async def signout(request: web.Request) -> web.Response:
    await sign_out(request)
    return web.json_response({})


@routes.get("/api/users/currentuser")
async def currentuser(request: web.Request) -> web.Response:
    user = current_user(request)
    return web.json_response({"currentUser": CurrentUserOut().dump(user) if user else None})
