"""The consumer runner: decode, call the handler, ack only after it returns.

Outcomes of one delivery:

- the handler returns → ack;
- ``RetryLater`` or a transient error (broker or database unreachable, a write
  conflict, a timeout) → a copy goes to the service's retry queue with ``x-attempt``
  + 1, where it waits ``retry_delay_ms`` before coming back; then ack. Never a hot loop;
- the ``max_retries``-th attempt fails, the handler raises anything else, or the body
  is not a valid event → a copy goes to the parked queue with ``x-parked-reason`` and
  ``x-error``; then ack;
- that copy cannot be published → nack with requeue: the broker redelivers, and its
  ``x-delivery-limit`` parks the message if this keeps happening. A consumer that
  dies without acking ends the same way.

Copies go through the service's own requeue exchange (topology.py), not the default one.

Deliveries are handled concurrently, up to the prefetch: aiormq runs each delivery's
callback as a task of its own (``Channel._on_deliver_frame``), so nothing here queues them.
Each is still acked only after its handler returned, that is after its commit; the version
rule of the replicas copes with the reordering this allows (shared/replica.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aiormq.exceptions import AMQPError
from pymongo.errors import ConnectionFailure

from shared import tracing
from shared.errors import Conflict
from shared.events import Event, MalformedEvent, decode
from shared.messaging import headers as h
from shared.messaging.publisher import Publisher, PublishFailed, copy_for_queue
from shared.messaging.settings import AmqpSettings
from shared.messaging.topology import QueueNames, Topology
from shared.metrics import EVENTS_CONSUMED

log = logging.getLogger(__name__)


# How a settled delivery is counted in ``events_consumed``.
_OUTCOMES = {"handled": "acked", "scheduled for retry": "retried", "parked": "parked"}


class RetryLater(Exception):
    """Raised by a handler when the event cannot be applied yet (out of order, transient)."""


@dataclass(frozen=True)
class Delivery:
    """What a handler may know about the message besides its event."""

    message_id: str
    routing_key: str
    attempt: int
    headers: Mapping[str, Any]


E = TypeVar("E", bound=Event)
Handler = Callable[[Any, Delivery], Awaitable[None]]


@dataclass(frozen=True)
class Subscription(Generic[E]):
    """Route events of ``event_type`` to ``handler``; the handler must be replay-safe.

    Generic so that ``Subscription(TicketCreated, on_ticket_created)`` type-checks a
    handler that takes a ``TicketCreated``, not just any ``Event``.
    """

    event_type: type[E]
    handler: Callable[[E, Delivery], Awaitable[None]]


# Errors that say "not now" rather than "never": worth a delayed retry.
# (pymongo's AutoReconnect and NetworkTimeout are ConnectionFailures; asyncio's
# TimeoutError is the builtin one.)
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RetryLater,
    Conflict,
    ConnectionFailure,
    AMQPError,
    PublishFailed,
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """True when a later attempt may succeed without anyone fixing anything."""
    return isinstance(exc, TRANSIENT_ERRORS)


class Consumer:
    """Consumes one service's work queue with manual ack and a bounded prefetch."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        topology: Topology,
        service: str,
        subscriptions: Sequence[Subscription[Any]],
        settings: AmqpSettings,
    ) -> None:
        self._connection = connection
        self._topology = topology
        self._service = service
        self._settings = settings
        self._handlers: dict[str, Handler] = {}
        for subscription in subscriptions:
            key = subscription.event_type.routing_key
            if key in self._handlers:
                raise ValueError(f"{service}: two subscriptions for {key}")
            self._handlers[key] = subscription.handler
        self.queues: QueueNames = topology.queue_names(service)
        self._publisher = Publisher(connection, topology)
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._connected = False
        self._in_flight: set[asyncio.Task[Any]] = set()

    @property
    def ready(self) -> bool:
        """True while the connection is up and this consumer is registered with the broker."""
        return (
            self._consumer_tag is not None
            and self._connected
            and not self._connection.is_closed
            and self._channel is not None
            and not self._channel.is_closed
        )

    async def start(self) -> None:
        """Declare the queues, bind the subscribed keys and start consuming."""
        self._connection.close_callbacks.add(self._on_connection_lost)
        self._connection.reconnect_callbacks.add(self._on_reconnected)
        await self._publisher.start()
        channel = self._connection.channel(publisher_confirms=False)
        await channel
        self._channel = channel
        await channel.set_qos(prefetch_count=self._settings.prefetch)
        queues = await self._topology.declare_service_queues(
            channel, self._service, self._handlers.keys()
        )
        self._queue = queues.main
        # A robust channel re-declares the queue and re-registers this consumer
        # (same tag) after a reconnect.
        self._consumer_tag = await queues.main.consume(self._on_message, no_ack=False)
        self._connected = True
        log.info(
            "consuming %s for %s (keys %s, prefetch %d)",
            self.queues.main,
            self._service,
            ", ".join(sorted(self._handlers)),
            self._settings.prefetch,
        )

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop taking messages, let in-flight handlers finish (bounded), close the channels."""
        tag, self._consumer_tag = self._consumer_tag, None
        if tag is not None and self._queue is not None and self._channel is not None:
            try:
                if not self._channel.is_closed:
                    await asyncio.wait_for(self._queue.cancel(tag), timeout_s)
            except (AMQPError, ConnectionError, RuntimeError, TimeoutError) as exc:
                log.warning("cancelling consumer of %s failed: %r", self.queues.main, exc)
        if self._in_flight:
            log.info(
                "waiting for %d in-flight message(s) of %s", len(self._in_flight), self.queues.main
            )
            _, pending = await asyncio.wait(self._in_flight, timeout=timeout_s)
            if pending:
                # Unacked messages go back to the queue when the channel closes.
                log.warning(
                    "%d handler(s) of %s still running at stop", len(pending), self.queues.main
                )
        self._connection.close_callbacks.discard(self._on_connection_lost)
        self._connection.reconnect_callbacks.discard(self._on_reconnected)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
        self._channel = None
        await self._publisher.close()

    def _on_connection_lost(self, _sender: Any, exc: BaseException | None = None) -> None:
        self._connected = False
        log.warning("connection lost; consumer of %s is down: %r", self.queues.main, exc)

    def _on_reconnected(self, _sender: Any) -> None:
        self._connected = True
        log.info("reconnected; consumer of %s resumed", self.queues.main)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._process(message)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def _process(self, message: AbstractIncomingMessage) -> None:
        headers: dict[str, Any] = dict(message.headers or {})
        routing_key = h.routing_key_of(message)
        message_id = message.message_id or ""
        attempt = h.attempt_of(headers)
        if not message_id:
            await self._park(message, routing_key, reason="malformed", error="no message_id")
            return
        handler = self._handlers.get(routing_key)
        if handler is None:
            await self._park(
                message, routing_key, reason="unsubscribed", error=f"no handler for {routing_key}"
            )
            return
        try:
            event = decode(routing_key, message.body)
        except MalformedEvent as exc:
            await self._park(message, routing_key, reason="malformed", error=str(exc))
            return
        delivery = Delivery(
            message_id=message_id, routing_key=routing_key, attempt=attempt, headers=headers
        )
        try:
            # The trace of the request that caused the event: its id on every log line
            # and on every event the handler emits in turn.
            with tracing.bound(tracing.trace_from_event_headers(headers)):
                await handler(event, delivery)
        except Exception as exc:
            await self._on_failure(message, routing_key, attempt, exc)
            return
        await self._settle(message, "handled")

    async def _on_failure(
        self, message: AbstractIncomingMessage, routing_key: str, attempt: int, exc: Exception
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if not is_transient(exc):
            log.exception("handler for %s %s failed", routing_key, message.message_id, exc_info=exc)
            await self._park(message, routing_key, reason="handler-error", error=error)
        elif attempt >= self._settings.max_retries:
            log.warning(
                "%s %s still failing after %d attempts: %s",
                routing_key,
                message.message_id,
                attempt,
                error,
            )
            await self._park(message, routing_key, reason="max-retries", error=error)
        else:
            await self._retry(message, routing_key, attempt, error)

    async def _retry(
        self, message: AbstractIncomingMessage, routing_key: str, attempt: int, error: str
    ) -> None:
        copy = copy_for_queue(message, routing_key, {h.ATTEMPT: attempt + 1})
        try:
            await self._publisher.send_to_queue(self.queues, self.queues.retry, copy)
        except PublishFailed as exc:
            log.error("cannot schedule retry of %s: %s; requeueing", message.message_id, exc)
            await self._requeue(message)
            return
        log.info(
            "%s %s retries in %d ms (attempt %d failed: %s)",
            routing_key,
            message.message_id,
            self._settings.retry_delay_ms,
            attempt,
            error,
        )
        await self._settle(message, "scheduled for retry")

    async def _park(
        self, message: AbstractIncomingMessage, routing_key: str, *, reason: str, error: str
    ) -> None:
        copy = copy_for_queue(
            message,
            routing_key,
            {
                h.ATTEMPT: h.attempt_of(message.headers or {}),
                h.PARKED_REASON: reason,
                h.ERROR: error[: h.MAX_ERROR_CHARS],
            },
        )
        try:
            await self._publisher.send_to_queue(self.queues, self.queues.parked, copy)
        except PublishFailed as exc:
            log.error("cannot park %s: %s; requeueing", message.message_id, exc)
            await self._requeue(message)
            return
        log.error(
            "parked %s %s in %s (%s: %s)",
            routing_key,
            message.message_id,
            self.queues.parked,
            reason,
            error,
        )
        await self._settle(message, "parked")

    async def _settle(self, message: AbstractIncomingMessage, outcome: str) -> None:
        try:
            await message.ack()
        except (AMQPError, ConnectionError, RuntimeError) as exc:
            # The channel died under us; the broker redelivers, and handlers are
            # replay-safe, so this costs a duplicate, never a loss.
            log.warning("ack of %s (%s) failed: %r", message.message_id, outcome, exc)
            return
        event = message.type or message.routing_key or ""
        EVENTS_CONSUMED.labels(event, _OUTCOMES.get(outcome, outcome)).inc()
        log.info("%s %s: %s", event, message.message_id, outcome)

    async def _requeue(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.nack(requeue=True)
        except (AMQPError, ConnectionError, RuntimeError) as exc:
            log.warning("nack of %s failed: %r", message.message_id, exc)
            return
        EVENTS_CONSUMED.labels(message.type or message.routing_key or "", "requeued").inc()
