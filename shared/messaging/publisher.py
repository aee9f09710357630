"""Publishing with publisher confirms and ``mandatory``: an event is either routed or an error."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    DeliveryMode,
)
from aiormq.exceptions import AMQPError

from shared import tracing
from shared.events import Event, encode
from shared.messaging import headers as h
from shared.messaging.topology import QueueNames, Topology
from shared.metrics import EVENTS_PUBLISHED

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"


class PublishFailed(Exception):
    """The broker did not take the message: unroutable, nacked, unconfirmed or unreachable."""


def build_message(
    body: bytes,
    *,
    message_id: str,
    routing_key: str,
    headers: Mapping[str, Any] | None = None,
    timestamp: datetime | None = None,
) -> aio_pika.Message:
    """A persistent JSON message whose ``type`` is the event's routing key."""
    return aio_pika.Message(
        body,
        message_id=message_id,
        type=routing_key,
        timestamp=timestamp or datetime.now(UTC),
        content_type=CONTENT_TYPE,
        delivery_mode=DeliveryMode.PERSISTENT,
        headers=dict(headers) if headers else None,
    )


class Publisher:
    """Publishes on the ticketing exchange (or straight to a queue) and waits for the broker.

    The channel is opened with ``on_return_raises=True``: with aio-pika's default an
    unroutable ``mandatory`` message comes back as a return value, not an error
    (recipes §1), and would be lost silently.
    """

    def __init__(
        self, connection: AbstractConnection, topology: Topology, *, timeout_s: float = 10.0
    ) -> None:
        self._connection = connection
        self._topology = topology
        self._timeout_s = timeout_s
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def start(self) -> None:
        """Open the confirming channel and declare the exchange."""
        self._channel = self._connection.channel(publisher_confirms=True, on_return_raises=True)
        await self._channel
        self._exchange = await self._topology.declare_exchange(self._channel)

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
        self._channel = None
        self._exchange = None

    async def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Publish ``body`` under ``routing_key``; ``PublishFailed`` unless confirmed and routed."""
        message = build_message(
            body, message_id=message_id, routing_key=routing_key, headers=headers
        )
        with tracing.continued(headers):  # the relay's publish joins the writer's trace
            await self._send(self._topology.exchange_name, routing_key, message)
        EVENTS_PUBLISHED.labels(routing_key).inc()

    async def publish_event(
        self,
        event: Event,
        *,
        message_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Publish an event; returns its message id (a fresh uuid4 hex unless given).

        The current trace, if any, travels in the headers (``headers`` win).
        """
        message_id = message_id or uuid.uuid4().hex
        carried = tracing.event_headers(headers)
        await self.publish(event.routing_key, encode(event), message_id=message_id, headers=carried)
        return message_id

    async def send_to_queue(
        self, queues: QueueNames, queue: str, message: aio_pika.Message
    ) -> None:
        """Put ``message`` on ``queue``, one of ``queues``, through their service's requeue
        exchange (retry, park, re-drive): never the default one (topology.py)."""
        await self._send(queues.requeue, queue, message)

    async def _send(self, exchange_name: str, routing_key: str, message: aio_pika.Message) -> None:
        channel = self._channel
        if channel is None or self._exchange is None:
            raise PublishFailed("publisher is not started")
        exchange = (
            self._exchange
            if exchange_name == self._exchange.name
            else await channel.get_exchange(exchange_name, ensure=False)
        )
        try:
            # One bound on the whole call: a robust channel waits for a reconnect
            # before sending, and that wait must not hang the caller.
            async with asyncio.timeout(self._timeout_s):
                await exchange.publish(message, routing_key=routing_key, mandatory=True)
        except TimeoutError as exc:
            raise PublishFailed(
                f"no confirm for {message.message_id} ({routing_key}) within {self._timeout_s}s"
            ) from exc
        except (AMQPError, ConnectionError, RuntimeError) as exc:
            raise PublishFailed(
                f"publishing {message.message_id} ({routing_key}) failed: {exc!r}"
            ) from exc
        log.debug("published %s to %r with key %s", message.message_id, exchange_name, routing_key)


def copy_for_queue(
    message: AbstractIncomingMessage, routing_key: str, extra: Mapping[str, Any]
) -> aio_pika.Message:
    """A persistent copy of ``message`` for a retry, parked or main queue.

    Our control headers (attempt, parking reason) are dropped and ``extra`` added, so a
    re-driven message starts counting attempts afresh.
    """
    headers = h.application_headers(message.headers or {})
    headers[h.ORIGINAL_ROUTING_KEY] = routing_key
    headers.update(extra)
    return aio_pika.Message(
        message.body,
        message_id=message.message_id,
        type=routing_key,
        timestamp=message.timestamp,
        content_type=message.content_type or CONTENT_TYPE,
        delivery_mode=DeliveryMode.PERSISTENT,
        headers=headers,
    )
