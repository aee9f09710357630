"""shared.background.every: repeated work that survives its own errors and ends with its block."""

from __future__ import annotations

import asyncio

from shared.background import every


async def test_work_is_repeated_after_it_fails_and_stops_with_the_block() -> None:
    calls = 0
    third = asyncio.Event()

    async def work() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        raise RuntimeError("MongoDB away")

    async with every(0.001, work, what="test work"):
        await asyncio.wait_for(third.wait(), timeout=5)
    left = [t for t in asyncio.all_tasks() if t.get_name() == "test work"]

    assert calls >= 3
    assert left == []  # cancelled and awaited: no loop outlives the block
