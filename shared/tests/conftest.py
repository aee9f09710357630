"""Fixtures for the shared library's tests: AMQP settings, connections, a consuming service."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.events import TicketCreated
from shared.messaging import AmqpSettings, Messaging, Subscription, connect, open_messaging

Consuming = Callable[..., AbstractAsyncContextManager[Messaging]]


@pytest.fixture
def amqp_settings(amqp: AmqpSettings) -> AmqpSettings:
    """The suite's settings (own namespace, classic queues) with shorter delays, smaller limits."""
    return dataclasses.replace(
        amqp,
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
def consuming(amqp_settings: AmqpSettings) -> Consuming:
    """``consuming(handler)``: ``open_messaging`` of service ``svc`` (no MongoDB), ticket.created
    going to ``handler``. ``settings=`` replaces ``amqp_settings``; other keywords are passed on.
    """

    def open_consuming(
        handler: Any, *, settings: AmqpSettings = amqp_settings, **options: Any
    ) -> AbstractAsyncContextManager[Messaging]:
        return open_messaging(
            settings,
            service="svc",
            subscriptions=[Subscription(TicketCreated, handler)],
            **options,
        )

    return open_consuming
