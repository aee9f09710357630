"""Opening a service's dependencies in the background, so the process starts without them.

A service whose database or broker is down at boot must not exit: the orchestrator would
restart it in a loop, and every restart would wait out the same timeouts again. Instead the
HTTP server comes up at once — ``/healthz`` answers, ``/readyz`` answers 503 naming the
failed attempt — while a task opens the dependencies, backing off between attempts. Until
they are open, ``Dependencies.get()`` raises ``ServiceUnavailable``, so every handler that
needs them answers 503 in the standard error shape.

An attempt is one ``async with``: it opens everything or, at the first error, closes what it
had opened, and the next attempt starts from nothing. Exchanges and queues are declared
from the start again by every attempt (declarations are idempotent), so a broker lost in
the middle of declaring leaves no half-declared topology behind for good. Readiness checks
an attempt registered are dropped with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiohttp import web

from shared.errors import ServiceUnavailable
from shared.web.health import READINESS_CHECKS

log = logging.getLogger(__name__)

D = TypeVar("D")

OpenDeps = Callable[[web.Application], AbstractAsyncContextManager[D]]

STARTUP_CHECK = "startup"
STARTING_MESSAGE = "Service is starting; retry shortly"


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: doubling from ``first_s``, never above ``max_s``."""

    first_s: float = 0.5
    max_s: float = 5.0

    def delays(self) -> Iterator[float]:
        delay = self.first_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)


class Dependencies(Generic[D]):
    """What a service's handlers use, once a background task has opened it."""

    def __init__(self, open_deps: OpenDeps[D], *, backoff: Backoff = Backoff()) -> None:
        self._open_deps = open_deps
        self._backoff = backoff
        self._deps: D | None = None
        self._failure = "the first attempt is in progress"

    @classmethod
    def given(cls, deps: D) -> Dependencies[D]:
        """A handle open from the start on ``deps`` that someone else opened and closes (a
        test's in-memory twins): no background task, no ``startup`` readiness check."""
        handle = cls(lambda _app: contextlib.nullcontext(deps))
        handle._deps = deps
        return handle

    def get(self) -> D:
        """The dependencies, or ``ServiceUnavailable`` (503) while they are not open."""
        if self._deps is None:
            raise ServiceUnavailable(STARTING_MESSAGE)
        return self._deps

    async def check_ready(self) -> None:
        """Raise ``ServiceUnavailable`` saying why, until open (for ``/readyz``)."""
        if self._deps is None:
            raise ServiceUnavailable(f"opening dependencies: {self._failure}")

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: attempt from startup on, close at cleanup."""
        app[READINESS_CHECKS][STARTUP_CHECK] = self.check_ready
        stop = asyncio.Event()
        task = asyncio.create_task(self._keep_open(app, stop), name="open-dependencies")
        try:
            yield
        finally:
            stop.set()
            if self._deps is None:
                # Still attempting: cancelling unwinds the attempt's ``async with``, which
                # closes whatever it had opened.
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep_open(self, app: web.Application, stop: asyncio.Event) -> None:
        checks = app[READINESS_CHECKS]
        delays = self._backoff.delays()
        attempt = 0
        while True:
            attempt += 1
            before = dict(checks)
            try:
                async with self._open_deps(app) as deps:
                    checks.pop(STARTUP_CHECK, None)
                    self._deps = deps
                    log.info("dependencies open (attempt %d)", attempt)
                    # Entered and exited in this one task, as context managers expect.
                    await stop.wait()
                    self._deps = None
                return
            except Exception as exc:
                if stop.is_set():
                    log.exception("closing the dependencies failed")
                    return
                checks.clear()
                checks.update(before)
                self._failure = f"attempt {attempt} failed with {type(exc).__name__}"
                delay = next(delays)
                log.warning(
                    "opening dependencies failed (attempt %d): %r; retrying in %.1f s",
                    attempt,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)


def open_in_background(
    app: web.Application, open_deps: OpenDeps[D], *, backoff: Backoff = Backoff()
) -> Dependencies[D]:
    """Open ``open_deps(app)`` in a task from startup on, retrying until it opens; close it
    at cleanup. Returns the handle handlers read the dependencies from."""
    dependencies = Dependencies(open_deps, backoff=backoff)
    app.cleanup_ctx.append(dependencies.lifetime)
    return dependencies
