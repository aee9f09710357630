"""/api/users handlers: load the body, call one use case, dump the result."""

from __future__ import annotations

from aiohttp import web

from services.auth import service
from services.auth.api.keys import DEPS
from services.auth.api.schemas import (
    CurrentUserEnvelopeOut,
    EmptyOut,
    SignInIn,
    SignUpIn,
    UserOut,
)
from shared.auth import current_user, sign_out, start_session
from shared.web import documented, load, read_json

routes = web.RouteTableDef()

# Schemas built once: building one deep-copies its fields, a tenth of a small request's
# CPU. Loading and dumping keep no state, so one instance serves every request.
SIGN_IN_IN = SignInIn()
SIGN_UP_IN = SignUpIn()
USER_OUT = UserOut()

EXAMPLE_USER_ID = "5f073cc5fd21dc001a6e5f72"
EXAMPLE_CREDENTIALS = {"email": "turing@test.com", "password": "enigma42"}
EXAMPLE_USER = {"id": EXAMPLE_USER_ID, "email": "turing@test.com"}
SETS_COOKIE = "The response sets the `session` cookie."


@routes.post("/api/users/signup")
@documented(
    summary="Create an account and sign in",
    description=f"Password 8 to 128 characters (code points), kept as typed. {SETS_COOKIE}",
    request=SignUpIn,
    response=UserOut,
    status=201,
    errors=(400, 503),
    request_example=EXAMPLE_CREDENTIALS,
    response_example=EXAMPLE_USER,
)
async def signup(request: web.Request) -> web.Response:
    body: service.Credentials = load(SIGN_UP_IN, await read_json(request))
    result = await service.sign_up(body.email, body.password, deps=request.app[DEPS].get())
    await start_session(request, result.token)
    return web.json_response(USER_OUT.dump(result.user), status=201)


@routes.post("/api/users/signin")
@documented(
    summary="Sign in",
    description=f"Unknown email and wrong password are both 400 Invalid credentials. {SETS_COOKIE}",
    request=SignInIn,
    response=UserOut,
    errors=(400, 503),
    request_example=EXAMPLE_CREDENTIALS,
    response_example=EXAMPLE_USER,
)
async def signin(request: web.Request) -> web.Response:
    body: service.Credentials = load(SIGN_IN_IN, await read_json(request))
    result = await service.sign_in(body.email, body.password, deps=request.app[DEPS].get())
    await start_session(request, result.token)
    return web.json_response(USER_OUT.dump(result.user))


@routes.post("/api/users/signout")
@documented(
    summary="Sign out",
    description=(
        "Revokes the session's token in every service (a copy of the cookie is refused "
        "within seconds) and expires the `session` cookie."
    ),
    response=EmptyOut,
    errors=(503,),
    response_example={},
)
async def signout(request: web.Request) -> web.Response:
    await service.sign_out(current_user(request), deps=request.app[DEPS].get())
    await sign_out(request)
    return web.json_response({})


@routes.get("/api/users/currentuser")
@documented(
    summary="Who is signed in",
    description="Never 401: without a valid session cookie, currentUser is null.",
    response=CurrentUserEnvelopeOut,
    auth="optional",
    response_example={
        "currentUser": {
            "id": EXAMPLE_USER_ID,
            "email": "turing@test.com",
            "iat": 1768580190,
            "exp": 1768583790,
        }
    },
)
async def currentuser(request: web.Request) -> web.Response:
    # The claims' own JSON: what CurrentUserEnvelopeOut (the documented shape) dumps, as a
    # test holds, without marshmallow on the most frequent request of all.
    user = current_user(request)
    return web.json_response({"currentUser": user.as_json() if user is not None else None})
