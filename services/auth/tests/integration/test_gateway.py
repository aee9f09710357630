"""auth behind the real nginx gateway, configured from the file compose uses too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from services.auth.api.app import create_app
from services.auth.config import Settings
from shared.mongo import Mongo
from shared.testing.gateway import Gateway
from shared.testing.services import free_port
from shared.web import DEPENDENCIES

GatewayFactory = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
async def gateway_at(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    settings: Settings,
    mongo: Mongo,
    tmp_path: Path,
) -> GatewayFactory:
    """``async with gateway_at(**limits) as url``: nginx in front of auth, with ``limits``
    (``auth_rate_per_s``, ``auth_burst``) or the defaults."""
    auth = await aiohttp_server(create_app(settings))
    await auth.app[DEPENDENCIES].opened()

    @asynccontextmanager
    async def started(**limits: int) -> AsyncIterator[str]:
        port = free_port()
        upstreams = dict.fromkeys(("TICKETS", "ORDERS", "PAYMENTS", "CLIENT"), "127.0.0.1:9")
        gateway = Gateway(
            tmp_path / f"nginx-{port}",
            f"127.0.0.1:{port}",
            {"AUTH": f"127.0.0.1:{auth.port}", **upstreams},
            **limits,
        )
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(gateway.start, url)
        try:
            yield url
        finally:
            await asyncio.to_thread(gateway.stop)

    return started


@pytest.fixture
async def gateway_url(gateway_at: GatewayFactory) -> AsyncIterator[str]:
    async with gateway_at() as url:
        yield url


async def signins_at_once(url: str, count: int) -> list[tuple[int, Any, str | None]]:
    """``count`` sign-ins sent together: each one's status, body and Retry-After."""
    async with aiohttp.ClientSession() as http:

        async def attempt() -> tuple[int, Any, str | None]:
            response = await http.post(
                f"{url}/api/users/signin", json={"email": "x@y.io", "password": "nope"}
            )
            body = await response.json(content_type=None)
            return response.status, body, response.headers.get("Retry-After")

        return await asyncio.gather(*(attempt() for _ in range(count)))


def test_the_shared_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    upstreams = dict.fromkeys(("AUTH", "TICKETS", "ORDERS", "PAYMENTS", "CLIENT"), "127.0.0.1:9")
    gateway = Gateway(tmp_path, "127.0.0.1:18999", upstreams)

    result = gateway.check()

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


async def test_a_signup_through_the_gateway_gives_a_cookie_currentuser_accepts(
    gateway_url: str,
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        signup = await http.post(
            f"{gateway_url}/api/users/signup", json={"email": "gw@test.com", "password": "secret"}
        )
        current = await http.get(f"{gateway_url}/api/users/currentuser")

        assert signup.status == 201
        assert "session" in signup.cookies
        assert (await current.json())["currentUser"]["email"] == "gw@test.com"
        assert signup.headers["X-Request-Id"]


async def test_the_gateway_keeps_the_error_shape_and_hides_probes(gateway_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        unknown = await http.get(f"{gateway_url}/api/users/nope")
        readyz = await http.get(f"{gateway_url}/readyz")
        down = await http.get(f"{gateway_url}/api/tickets")  # no tickets service here

        assert unknown.status == 404
        assert await unknown.json() == {"errors": [{"message": "Not Found"}]}
        assert readyz.status == 404
        assert down.status == 503
        assert await down.json(content_type=None) == {
            "errors": [{"message": "Service temporarily unavailable"}]
        }


async def test_the_gateway_rate_limits_signin_with_a_429_in_the_error_shape(
    gateway_url: str,
) -> None:
    results = await signins_at_once(gateway_url, 30)

    statuses = [status for status, _, _ in results]
    assert statuses.count(400) >= 10  # the burst gets through to auth
    limited = [(body, retry) for status, body, retry in results if status == 429]
    assert limited
    assert limited[0] == (
        {"errors": [{"message": "Too many requests, try again shortly"}]},
        "1",  # Retry-After: when to try again
    )


async def test_the_sign_in_brake_is_configurable(gateway_at: GatewayFactory) -> None:
    async with gateway_at(auth_rate_per_s=1, auth_burst=2) as url:
        results = await signins_at_once(url, 12)

    # One at the rate, two in the burst; the rest are turned away at once.
    assert sorted(status for status, _, _ in results) == [400] * 3 + [429] * 9
