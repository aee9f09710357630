"""Opening dependencies in the background: the process serves probes at once, answers 503
until the dependencies open, retries failed attempts from nothing, and closes cleanly.

The dependency here is a stand-in whose availability the test switches; the same
mechanism against real MongoDB and RabbitMQ outages is tested in the services
(``services/tickets/tests/integration/test_startup.py``, ``services/auth``'s process test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from shared.errors import ServiceUnavailable
from shared.testing.poll import eventually
from shared.testing.services import opened
from shared.web import (
    Backoff,
    Dependencies,
    HttpSettings,
    add_readiness_check,
    base_app,
    open_in_background,
)

Client = TestClient[Any, Any]
FAST = Backoff(first_s=0.01, max_s=0.05)


@dataclass
class Resource:
    """Something an attempt opened, to see that it is closed."""

    closed: bool = False


@dataclass
class Outside:
    """The dependencies' world as the test controls it."""

    database_up: bool = False
    hang: bool = False
    opened: list[Resource] = field(default_factory=list)  # one per attempt
    attempts: int = 0
    # Whether each close ran in the task that opened (context managers may depend on it).
    closed_by_opener: list[bool] = field(default_factory=list)

    @asynccontextmanager
    async def open(self, app: web.Application) -> AsyncIterator[str]:
        self.attempts += 1
        opened_in = asyncio.current_task()
        resource = Resource()
        self.opened.append(resource)
        try:
            # Registered before the failure, as a service registers its first client's check.
            add_readiness_check(app, "cache", _ok)
            if self.hang:
                await asyncio.Event().wait()
            if not self.database_up:
                raise ConnectionRefusedError("database down")
            yield "the use cases' dependencies"
        finally:
            resource.closed = True
            self.closed_by_opener.append(asyncio.current_task() is opened_in)


async def _ok() -> None:
    return None


routes = web.RouteTableDef()
DEPS: web.AppKey[Dependencies[str]] = web.AppKey("deps")


@routes.get("/things")
async def things(request: web.Request) -> web.Response:
    return web.json_response({"deps": request.app[DEPS].get()})


def app_opening(outside: Outside) -> web.Application:
    app = base_app(HttpSettings())
    app[DEPS] = open_in_background(app, outside.open, backoff=FAST)
    app.add_routes(routes)
    return app


StartClient = Callable[[web.Application], Awaitable[Client]]


async def test_until_the_dependencies_open_probes_answer_and_handlers_answer_503(
    aiohttp_client: StartClient,
) -> None:
    outside = Outside()
    client = await aiohttp_client(app_opening(outside))
    await eventually(lambda: outside.attempts >= 2, what="a failed attempt to be retried")

    alive = await client.get("/healthz")
    ready = await client.get("/readyz")
    refused = await client.get("/things")

    assert alive.status == 200
    assert ready.status == 503
    checks = (await ready.json())["checks"]
    assert checks.keys() == {"startup"}, "a failed attempt's checks are dropped with it"
    assert checks["startup"].startswith("down: opening dependencies: attempt ")
    assert checks["startup"].endswith("failed with ConnectionRefusedError")
    assert refused.status == 503
    assert await refused.json() == {"errors": [{"message": "Service is starting; retry shortly"}]}

    outside.database_up = True
    await opened(client, timeout_s=5)
    ready = await client.get("/readyz")
    served = await client.get("/things")

    assert ready.status == 200
    assert (await ready.json())["checks"] == {"cache": "ok"}
    assert served.status == 200
    assert await served.json() == {"deps": "the use cases' dependencies"}


async def test_shutdown_closes_the_open_dependencies_in_the_task_that_opened_them(
    aiohttp_client: StartClient,
) -> None:
    outside = Outside(database_up=True)
    client = await aiohttp_client(app_opening(outside))
    await opened(client, timeout_s=5)

    await client.close()

    assert [resource.closed for resource in outside.opened] == [True]
    assert outside.closed_by_opener == [True]
    with pytest.raises(ServiceUnavailable):
        client.app[DEPS].get()


async def test_shutdown_during_an_attempt_that_hangs_ends_it_and_closes_what_it_opened(
    aiohttp_client: StartClient,
) -> None:
    outside = Outside(hang=True)
    client = await aiohttp_client(app_opening(outside))
    await eventually(lambda: outside.attempts == 1, what="the attempt to start")

    await asyncio.wait_for(client.close(), timeout=5)

    assert [resource.closed for resource in outside.opened] == [True]


async def test_waiting_for_the_app_to_open_names_the_last_failure_when_it_gives_up(
    aiohttp_client: StartClient,
) -> None:
    outside = Outside()
    client = await aiohttp_client(app_opening(outside))
    await eventually(lambda: outside.attempts >= 1, what="an attempt")

    with pytest.raises(AssertionError, match="failed with ConnectionRefusedError"):
        await opened(client, timeout_s=0.2)


async def test_dependencies_handed_in_serve_at_once_and_are_not_closed_by_the_app(
    aiohttp_client: StartClient,
) -> None:
    app = base_app(HttpSettings())
    app[DEPS] = Dependencies.given("handed in")
    app.add_routes(routes)
    client = await aiohttp_client(app)

    served = await client.get("/things")
    ready = await client.get("/readyz")

    assert (served.status, await served.json()) == (200, {"deps": "handed in"})
    assert (ready.status, (await ready.json())["checks"]) == (200, {})
    await client.close()
    assert app[DEPS].get() == "handed in", "the app's cleanup leaves them to their owner"


def test_backoff_doubles_up_to_its_ceiling() -> None:
    delays = Backoff(first_s=0.5, max_s=5.0).delays()

    assert [next(delays) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
