"""Where scrypt runs: in worker threads, a bounded number at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

from services.auth.config import HashingSettings
from services.auth.domain import (
    PasswordCheck,
    ScryptCost,
    check_password,
    decoy_hash,
    hash_password,
)
from shared.errors import ServiceUnavailable

T = TypeVar("T")

# Entered in the worker thread around each hash; tests count and hold hashes with it.
AroundHash = Callable[[], AbstractContextManager[object]]


class HashingBusy(ServiceUnavailable):
    default_message = "Too many sign-ins at once; try again in a moment"


class PasswordHasher:
    """Hashes and checks passwords off the event loop, at most ``settings.concurrency`` at
    once: each scrypt takes ``cost.memory_bytes`` (128 MiB at the default cost), and the pod's
    memory limit is budgeted for that many. A caller waits up to ``settings.wait_s`` for a
    slot, then gets ``HashingBusy`` (503): under a flood, answering late helps nobody and a
    queue without end would only grow."""

    def __init__(self, settings: HashingSettings, *, around_hash: AroundHash = nullcontext) -> None:
        self.cost = ScryptCost(log2_n=settings.scrypt_log2_n)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._wait_s = settings.wait_s
        self._around_hash = around_hash
        # Checked against when the email is unknown, so both failures cost one scrypt.
        self._decoy = decoy_hash(self.cost)
        self.waiting = 0  # callers waiting for a slot now

    async def hash(self, password: str) -> str:
        """A new hash of ``password`` at the configured cost."""
        return await self._run(hash_password, password, self.cost)

    async def check(self, password: str, stored: str | None) -> PasswordCheck:
        """``password`` against ``stored``, or against a decoy when there is no account."""
        stored = self._decoy if stored is None else stored
        return await self._run(check_password, password, stored, self.cost)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        self.waiting += 1
        try:
            async with asyncio.timeout(self._wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise HashingBusy() from None
        finally:
            self.waiting -= 1
        done = asyncio.get_running_loop().run_in_executor(None, self._in_thread, fn, *args)
        # The slot is given back when the thread is done, not when the caller stops waiting:
        # a cancelled request's hash runs on, and its memory with it.
        done.add_done_callback(lambda _: self._slots.release())
        return await asyncio.shield(done)

    def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        with self._around_hash():
            return fn(*args)
