"""What the client passes between the browser and the APIs, seen by an API that records it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from services.client.config import ApiSettings, Settings
from services.client.tests.conftest import Client, browser, form
from shared.logging import LogSettings
from shared.web import HttpSettings

SESSION = "session=eyJqd3QiOiJ4In0%3D; path=/; httponly; samesite=lax"


class RecordingApi:
    """Answers like auth and tickets do, and keeps the headers of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, CIMultiDict[str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/api/users/currentuser", self.currentuser)
        self.app.router.add_get("/api/tickets", self.tickets)
        self.app.router.add_post("/api/users/signin", self.signin)

    def record(self, request: web.Request) -> None:
        self.calls.append((request.path, request.headers.copy()))

    async def currentuser(self, request: web.Request) -> web.Response:
        self.record(request)
        return web.json_response({"currentUser": None})

    async def tickets(self, request: web.Request) -> web.Response:
        self.record(request)
        return web.json_response([])

    async def signin(self, request: web.Request) -> web.Response:
        self.record(request)
        response = web.json_response({"id": "u1", "email": "a@b.co"})
        response.headers["Set-Cookie"] = SESSION
        return response


@pytest.fixture
async def api() -> RecordingApi:
    return RecordingApi()


@pytest.fixture
async def client(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    aiohttp_client: Callable[..., Awaitable[Client]],
    api: RecordingApi,
) -> Client:
    server = await aiohttp_server(api.app)
    # A host name, not 127.0.0.1: a cookie jar drops the cookies an IP address sets, which
    # would hide a client that kept them.
    settings = Settings(
        HttpSettings(),
        LogSettings(),
        ApiSettings.at(f"http://localhost:{server.port}"),
        cookie_secure=False,  # plain http here
    )
    return await browser(aiohttp_client, settings)


async def test_the_browsers_cookie_and_trace_go_with_every_api_call(
    client: Client, api: RecordingApi
) -> None:
    client.session.cookie_jar.clear()  # only the Cookie header below
    await client.get(
        "/",
        headers={
            "Cookie": "session=abc",
            "X-Request-Id": "page-42",
            "X-Forwarded-For": "203.0.113.9",
        },
    )

    assert [path for path, _ in api.calls] == ["/api/tickets", "/api/users/currentuser"]
    for _, headers in api.calls:
        assert headers["Cookie"] == "session=abc"
        assert headers["X-Request-Id"] == "page-42"
        assert headers["X-Forwarded-For"] == "203.0.113.9"


@pytest.mark.parametrize(
    ("headers", "address"),
    [
        # What the gateway sets: X-Real-IP is the address it trusted, and it appended the
        # same to whatever X-Forwarded-For the browser made up.
        ({"X-Real-IP": "203.0.113.9", "X-Forwarded-For": "10.9.9.9, 203.0.113.9"}, "203.0.113.9"),
        ({"X-Forwarded-For": "10.9.9.9, 203.0.113.9"}, "203.0.113.9"),
        ({}, "127.0.0.1"),  # no proxy in front: the peer is the browser
    ],
)
async def test_the_browsers_address_goes_with_every_api_call(
    client: Client, api: RecordingApi, headers: dict[str, str], address: str
) -> None:
    # The gateway keys its sign-in limit by it: it trusts the client's X-Forwarded-For.
    await client.post(
        "/auth/signin",
        data=form(email="a@b.co", password="x"),
        headers=headers,
        allow_redirects=False,
    )

    assert [path for path, _ in api.calls] == ["/api/users/signin"]
    assert all(call["X-Forwarded-For"] == address for _, call in api.calls)


async def test_one_users_cookie_never_goes_with_the_next_users_calls(
    client: Client, api: RecordingApi
) -> None:
    signed_in = await client.post(
        "/auth/signin", data=form(email="a@b.co", password="x"), allow_redirects=False
    )
    client.session.cookie_jar.clear()
    api.calls.clear()

    await client.get("/")  # another browser: no cookie

    assert signed_in.headers.getall("Set-Cookie") == [SESSION]
    assert [path for path, _ in api.calls] == ["/api/tickets", "/api/users/currentuser"]
    assert all("Cookie" not in headers for _, headers in api.calls)
