"""A readiness note says what a ready process is doing without making it unready."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from shared.web.health import (
    READINESS_CHECKS,
    READINESS_NOTES,
    Note,
    add_readiness_check,
    add_readiness_note,
    health_routes,
)

Client = TestClient[Any, Any]


def an_app(note: Note | None, *, mongo_up: bool = True) -> web.Application:
    app = web.Application()
    app[READINESS_CHECKS] = {}
    app[READINESS_NOTES] = {}

    async def mongo() -> None:
        if not mongo_up:
            raise ConnectionError("refused")

    async def rebuild() -> Note | None:
        return note

    add_readiness_check(app, "mongo", mongo)
    add_readiness_note(app, "rebuild", rebuild)
    app.add_routes(health_routes)
    return app


async def test_a_note_replaces_ready_in_the_status_and_the_answer_stays_200(
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await aiohttp_client(an_app(Note("rebuilding", "tickets")))

    response = await client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {
        "status": "rebuilding",
        "checks": {"mongo": "ok", "rebuild": "rebuilding tickets"},
    }


async def test_no_note_leaves_the_answer_as_it_was(
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await aiohttp_client(an_app(None))

    response = await client.get("/readyz")

    assert response.status == 200
    assert await response.json() == {"status": "ready", "checks": {"mongo": "ok"}}


async def test_a_failing_check_is_still_not_ready_whatever_the_note(
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await aiohttp_client(an_app(Note("rebuilding", "tickets"), mongo_up=False))

    response = await client.get("/readyz")

    assert response.status == 503
    assert (await response.json())["status"] == "not ready"
