"""Waiting in tests for something that happens asynchronously (a consumer, a relay)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp


async def eventually(
    predicate: Callable[[], Any],
    *,
    timeout_s: float = 10.0,
    interval_s: float = 0.02,
    what: str = "",
) -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy; return that.

    Fails the test with ``what`` after ``timeout_s``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}")
        await asyncio.sleep(interval_s)


async def when_known(
    send: Callable[[], Awaitable[aiohttp.ClientResponse]], what: str
) -> aiohttp.ClientResponse:
    """``send``'s response once it is neither a 404 nor a 409: the service has heard of the
    thing by then (a replica that an event has not reached yet answers 404), and it took the
    write (a 409 says another request changed the resource meanwhile: retry, as the API
    tells its callers to; on the MongoDB stand-in, whose transactions conflict with any
    overlapping write, that happens under load)."""

    async def attempt() -> aiohttp.ClientResponse | None:
        response = await send()
        return None if response.status in (404, 409) else response

    response: aiohttp.ClientResponse = await eventually(attempt, what=what)
    return response
