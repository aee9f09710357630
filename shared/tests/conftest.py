"""Fixtures for the shared library's tests: AMQP settings, connections, polling."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.messaging import AmqpSettings, connect
from shared.testing import poll

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
        queue_type="classic",  # see AmqpSettings.queue_type
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
    return poll.eventually
