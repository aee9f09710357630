"""The emulator served from a thread of another process (the test fixtures' one emulator)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

from aiohttp import web

from stripe_emulator.app import create_emulator_app
from stripe_emulator.config import DEFAULT_HOST


@contextlib.contextmanager
def emulator_in_thread(host: str = DEFAULT_HOST, port: int = 0) -> Iterator[str]:
    """Serve the emulator from a thread of its own (a free port by default); its base URL."""
    loop = asyncio.new_event_loop()
    runner: web.AppRunner | None = None

    async def start() -> str:
        nonlocal runner
        runner = web.AppRunner(create_emulator_app())
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        return f"http://{bound_host}:{bound_port}"

    thread = threading.Thread(target=loop.run_forever, name="stripe-emulator", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    finally:
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
