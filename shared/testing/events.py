"""Watching what a service publishes: a throw-away queue on the exchange, decoded events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aio_pika.abc import AbstractIncomingMessage

from shared.events import Event, decode, encode
from shared.messaging import AmqpSettings, Publisher, Topology, connect
from shared.messaging.redrive import ParkedMessage, list_parked
from shared.messaging.topology import FENCE_KEY

E = TypeVar("E", bound=Event)


@dataclass
class EventTap:
    """Every event published on the exchange under the watched keys, in arrival order."""

    events: list[Event] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    headers: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            if message.type == FENCE_KEY:
                return  # a replay's mark in the event log (eventlog.py), not an event
            event = decode(message.type or message.routing_key or "", message.body)
            async with self._arrived:
                self.events.append(event)
                self.message_ids.append(message.message_id or "")
                self.headers.append(dict(message.headers or {}))
                self._arrived.notify_all()

    def headers_of(self, event: Event) -> dict[str, Any]:
        """The AMQP headers ``event`` arrived with (the first arrival if repeated)."""
        return self.headers[self.events.index(event)]

    def of(self, kind: type[E]) -> list[E]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(
        self, kind: type[E], where: Callable[[E], bool] = lambda _: True, timeout_s: float = 10.0
    ) -> E:
        """The first event of ``kind`` matching ``where``, waiting for it if need be."""

        def found() -> E | None:
            return next((e for e in self.of(kind) if where(e)), None)

        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: found() is not None)
        result = found()
        assert result is not None
        return result


@asynccontextmanager
async def tap_events(settings: AmqpSettings, *routing_keys: str) -> AsyncIterator[EventTap]:
    """Bind an exclusive queue to the exchange for ``routing_keys`` (default: all)."""
    topology = Topology.from_settings(settings)
    connection = await connect(settings.url, connection_name="event-tap")
    try:
        channel = await connection.channel()
        exchange = await topology.declare_exchange(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in routing_keys or ("#",):
            await queue.bind(exchange, routing_key=key)
        tap = EventTap()
        await queue.consume(tap._on_message)
        yield tap
    finally:
        await connection.close()


def payload(event: Event) -> dict[str, Any]:
    """The event as the wire JSON object (for asserting on field names)."""
    data: dict[str, Any] = json.loads(encode(event))
    return data


@asynccontextmanager
async def event_publisher(settings: AmqpSettings) -> AsyncIterator[Publisher]:
    """A publisher on the exchange, for tests that play another service."""
    connection = await connect(settings.url, connection_name="test-publisher")
    publisher = Publisher(connection, Topology.from_settings(settings))
    try:
        await publisher.start()
        yield publisher
    finally:
        await publisher.close()
        await connection.close()


async def parked_messages(settings: AmqpSettings, service: str) -> list[ParkedMessage]:
    """The messages ``service`` gave up on (its parked queue), left in place."""
    connection = await connect(settings.url, connection_name="test-parked")
    try:
        return await list_parked(connection, Topology.from_settings(settings), service)
    finally:
        await connection.close()
