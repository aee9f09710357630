"""Fixtures for the shared library's tests: AMQP settings, connections, polling."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.messaging import AmqpSettings, connect

Eventually = Callable[..., Awaitable[Any]]


@pytest.fixture
def amqp_settings(amqp_url: str, amqp_namespace: str) -> AmqpSettings:
    """Settings on this test's namespace, with short delays and small limits."""
    return AmqpSettings(
        url=amqp_url,
        namespace=amqp_namespace,
        prefetch=8,
        retry_delay_ms=150,
        max_retries=3,
        delivery_limit=2,
        sweep_interval_s=0.3,
    )


@pytest.fixture
async def amqp_connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    """A robust connection of the test's own, closed afterwards."""
    connection = await connect(amqp_url, connection_name=f"test-{uuid.uuid4().hex[:8]}")
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def eventually() -> Eventually:
    """``await eventually(predicate, timeout_s=10)``: poll until truthy, fail on timeout."""

    async def poll(
        predicate: Callable[[], Any],
        *,
        timeout_s: float = 10.0,
        interval_s: float = 0.02,
        what: str = "",
    ) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            if loop.time() >= deadline:
                raise AssertionError(
                    f"timed out after {timeout_s}s waiting for {what or predicate}"
                )
            await asyncio.sleep(interval_s)

    return poll
