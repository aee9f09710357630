"""Keeping the in-process arq worker running, and stopping it without cutting a job short."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from arq.worker import Worker

from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
DRAIN_TIMEOUT_S = 5.0
CANCEL_RETRY_S = 0.5


class WorkerSupervisor:
    """Runs arq workers one after another in this event loop.

    arq's worker stops at the first Redis error; its CLI then exits and lets the
    orchestrator restart it. In-process, that would leave /healthz green and no job
    firing, so a stopped worker is replaced by a fresh one after ``RESTART_DELAY_S``.
    """

    def __init__(self, build: Callable[[], Worker], *, name: str) -> None:
        self._build = build
        self._name = name
        self._worker: Worker | None = None
        self._polling = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop polling, then let the running jobs finish (bounded)."""
        if self._task is not None:
            await _cancel(self._task)
            self._task = None
        if self._worker is not None:
            await _drain(self._worker)

    async def check_ready(self) -> None:
        """Raise ``ServiceUnavailable`` while no worker polls (for ``/readyz``)."""
        if not self._polling:
            raise ServiceUnavailable(f"{self._name} is restarting")

    async def _run(self) -> None:
        while True:
            worker = self._worker = self._build()
            self._polling = True
            try:
                await worker.async_run()  # returns only by raising
            except Exception as exc:
                log.error("%s stopped: %r; restarting in %.1f s", self._name, exc, RESTART_DELAY_S)
            finally:
                self._polling = False
            await _drain(worker)
            await asyncio.sleep(RESTART_DELAY_S)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel ``task`` and wait until it is done, asking again if it ignores one cancel."""
    # Under Python 3.11, asyncio.wait_for (which redis-py uses when a socket timeout
    # is set) swallows a cancel that lands as its call completes; arq's loop then polls
    # on. Fixed in 3.12; until then, one cancel is not enough.
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=CANCEL_RETRY_S)


async def _drain(worker: Worker) -> None:
    """Wait for the jobs a stopped worker left running; cancel them after ``DRAIN_TIMEOUT_S``."""
    # A job cancelled mid-publish is not lost: arq puts it back to run again (or, if
    # Redis cannot be told, its in-progress mark expires). The cost is a duplicate
    # event, which consumers drop by its message id.
    running = [task for task in worker.tasks.values() if not task.done()]
    if running:
        _, pending = await asyncio.wait(running, timeout=DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
