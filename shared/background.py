"""Work a service repeats for as long as it runs (the overdue-order sweep, refund retries)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)


async def _repeat(work: Callable[[], Awaitable[object]], interval_s: float, what: str) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await work()
        except Exception:
            # MongoDB away, a conflict storm: the next round tries again.
            log.exception("%s failed; trying again in %g s", what, interval_s)


@asynccontextmanager
async def every(
    interval_s: float, work: Callable[[], Awaitable[object]], *, what: str
) -> AsyncIterator[None]:
    """Run ``work`` every ``interval_s`` in the background for the block; an error is
    logged and never ends the loop. The task is cancelled and awaited on exit."""
    task = asyncio.create_task(_repeat(work, interval_s, what), name=what)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
