"""The one place exchanges and queues are declared, so their arguments never drift.

RabbitMQ refuses (406, and closes the channel) a declaration whose arguments differ
from the existing queue's, so every process must build them from the same code.

For a service ``svc`` (names prefixed ``"{namespace}."`` when a namespace is set):

- ``svc``: the work queue, quorum, bound to the service's routing keys. After
  ``delivery_limit`` redeliveries (nacks, consumer crashes) the broker dead-letters a
  message to ``svc.parked``.
- ``svc.retry``: holds a copy for ``retry_delay_ms`` (queue TTL), then dead-letters it
  back to ``svc``. This is how a retry waits without a hot loop.
- ``svc.parked``: where messages stop; an operator lists and re-drives them.
- ``svc.requeue``: a direct exchange of the service's own that binds each of the three
  queues under its own name. Retries, parked copies, re-drives and both dead-letter
  routes go through it, never through the default exchange: RabbitMQ checks no routing
  key there, so a user allowed to write to it could reach any queue by name
  (permissions.py). Only the service's user may write to ``svc.requeue``.

Upgrades: RabbitMQ never changes an existing queue's arguments, so queues declared by a
release that dead-lettered through the default exchange (``x-dead-letter-exchange: ""``)
refuse today's arguments. ``declare_service_queues`` then keeps them as they are (their
*legacy* arguments, logged): the broker checks a dead-letter exchange's permission only
when a queue is created, and dead-letters itself, so they keep working once the service
users lose the default exchange; retries and parking go through ``svc.requeue`` either
way. A queue deleted while empty (service stopped) comes back with today's arguments.

Dead-lettering is at-least-once (RabbitMQ ≥ 3.10 quorum queues, needs
``x-overflow: reject-publish``): the broker keeps a message until the target queue
confirms it, so nothing is lost on the way to parked or back from retry.

The event log, ``ticketing.log``: a stream (``x-queue-type: stream``) bound to the
exchange with ``#``, so the broker appends every event (body, message id, headers,
routing key) as it routes it; ``shared.messaging.eventlog`` reads it back. It is declared
with the exchange (``declare_exchange``), by every publisher and consumer at start, so it
exists before the first event. Its retention (``EventLogSettings``) is queue arguments,
which RabbitMQ never changes either: a log that exists with other ones is kept as it is,
with a warning, and docs/event-log.md says how an operator changes its retention (a
policy; the smaller of policy and argument wins). A side effect: with the log bound, every
event on the exchange is routed, so ``mandatory`` now means "kept in the log" rather than
"some service's queue took it".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from aiormq.exceptions import ChannelPreconditionFailed

from shared.events import EVENT_TYPES
from shared.messaging.settings import AmqpSettings, EventLogSettings

log = logging.getLogger(__name__)

EXCHANGE = "ticketing"
EVENT_LOG = "ticketing.log"
# Published by a replay (eventlog.py) to mark where the log ended when it began; only the
# log receives it (no service binds it), and every reader passes over it.
FENCE_KEY = "eventlog.fence"


@dataclass(frozen=True)
class QueueNames:
    """The three queue names of one service, and its requeue exchange's."""

    main: str
    retry: str
    parked: str
    requeue: str  # the direct exchange that binds each queue above under its own name


@dataclass(frozen=True)
class ServiceQueues:
    """The three declared queues of one service."""

    names: QueueNames
    main: AbstractQueue
    retry: AbstractQueue
    parked: AbstractQueue


@dataclass(frozen=True)
class Topology:
    """Names and declaration arguments of the exchange and every service's queues."""

    namespace: str = ""
    delivery_limit: int = 5
    retry_delay_ms: int = 1000
    queue_type: str = "quorum"
    event_log: EventLogSettings | None = None  # None: no log is declared

    @classmethod
    def from_settings(cls, settings: AmqpSettings) -> Topology:
        return cls(
            namespace=settings.namespace,
            delivery_limit=settings.delivery_limit,
            retry_delay_ms=settings.retry_delay_ms,
            queue_type=settings.queue_type,
            event_log=settings.event_log,
        )

    def _name(self, name: str) -> str:
        return f"{self.namespace}.{name}" if self.namespace else name

    @property
    def exchange_name(self) -> str:
        return self._name(EXCHANGE)

    @property
    def log_name(self) -> str:
        """The event log: the stream every event on the exchange is appended to."""
        return self._name(EVENT_LOG)

    def queue_names(self, service: str) -> QueueNames:
        main = self._name(service)
        return QueueNames(
            main=main, retry=f"{main}.retry", parked=f"{main}.parked", requeue=f"{main}.requeue"
        )

    def main_arguments(self, service: str, *, legacy: bool = False) -> dict[str, Any]:
        """The work queue's arguments; ``legacy``: as releases before ``svc.requeue`` had them."""
        names = self.queue_names(service)
        exchange = "" if legacy else names.requeue
        if self.queue_type == "classic":
            return {
                "x-queue-type": "classic",
                **_dead_letter_to(exchange, names.parked, reliably=False),
            }
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            **_dead_letter_to(exchange, names.parked),
        }

    def retry_arguments(self, service: str, *, legacy: bool = False) -> dict[str, Any]:
        """The retry queue's arguments; ``legacy`` as for ``main_arguments``."""
        names = self.queue_names(service)
        exchange = "" if legacy else names.requeue
        return {
            "x-queue-type": self.queue_type,
            "x-message-ttl": self.retry_delay_ms,
            **_dead_letter_to(exchange, names.main, reliably=self.queue_type == "quorum"),
        }

    def parked_arguments(self) -> dict[str, Any]:
        # No delivery limit and no dead-lettering: parked is the end of the line.
        return {"x-queue-type": self.queue_type}

    def log_arguments(self, retention: EventLogSettings) -> dict[str, Any]:
        """The event log's arguments: a stream, and how long and large it may grow."""
        return {
            "x-queue-type": "stream",
            "x-max-age": retention.max_age,
            "x-max-length-bytes": retention.max_bytes,
            "x-stream-max-segment-size-bytes": retention.segment_bytes,
        }

    async def declare_exchange(self, channel: AbstractChannel) -> AbstractExchange:
        """The durable topic exchange every event is published on, and (when the settings
        have one) the event log bound to it."""
        exchange = await channel.declare_exchange(
            self.exchange_name, ExchangeType.TOPIC, durable=True
        )
        if self.event_log is not None:
            await self.declare_log(channel, exchange, self.event_log)
        return exchange

    async def declare_log(
        self, channel: AbstractChannel, exchange: AbstractExchange, retention: EventLogSettings
    ) -> AbstractQueue:
        """The event log, bound to ``exchange`` with ``#``; one that exists with other
        retention arguments is kept as it is (module docstring)."""
        arguments = self.log_arguments(retention)
        if await _accepted(channel, self.log_name, arguments):
            stream = await channel.declare_queue(self.log_name, durable=True, arguments=arguments)
        else:
            stream = await channel.declare_queue(self.log_name, passive=True)
            log.warning(
                "event log %s exists with other retention arguments than %s; it keeps its "
                "own (RabbitMQ never changes a queue's arguments): change it with a policy, "
                "see docs/event-log.md",
                self.log_name,
                {k: v for k, v in arguments.items() if k != "x-queue-type"},
            )
        await stream.bind(exchange, routing_key="#")
        return stream

    async def declare_service_queues(
        self, channel: AbstractChannel, service: str, routing_keys: Iterable[str] = ()
    ) -> ServiceQueues:
        """Declare the service's three queues, each bound to its requeue exchange under its own
        name; bind the work queue to exactly ``routing_keys`` on the shared exchange.

        Bindings outlive the process on a durable queue, so a key the service no
        longer subscribes to is unbound here (every key in the event catalogue is
        checked; unbinding a key that was never bound is a no-op).
        """
        names = self.queue_names(service)
        requeue = await channel.declare_exchange(names.requeue, ExchangeType.DIRECT, durable=True)
        # Targets first, so no dead-letter ever points at a queue that is not there.
        parked = await _declare_bound(channel, requeue, names.parked, self.parked_arguments())
        main = await _declare_bound(
            channel,
            requeue,
            names.main,
            self.main_arguments(service),
            legacy=self.main_arguments(service, legacy=True),
        )
        retry = await _declare_bound(
            channel,
            requeue,
            names.retry,
            self.retry_arguments(service),
            legacy=self.retry_arguments(service, legacy=True),
        )
        keys = sorted(set(routing_keys))
        exchange = await self.declare_exchange(channel)
        for key in keys:
            await main.bind(exchange, routing_key=key)
        for key in sorted(set(EVENT_TYPES) - set(keys)):
            await main.unbind(exchange, routing_key=key)
        return ServiceQueues(names=names, main=main, retry=retry, parked=parked)


async def _declare_bound(
    channel: AbstractChannel,
    requeue: AbstractExchange,
    name: str,
    arguments: dict[str, Any],
    *,
    legacy: dict[str, Any] | None = None,
) -> AbstractQueue:
    """Declare ``name`` with ``arguments`` (or ``legacy``, if it exists with those) and bind
    it to the requeue exchange under its own name."""
    if legacy is None or await _accepted(channel, name, arguments):
        queue = await channel.declare_queue(name, durable=True, arguments=arguments)
    else:
        # Refused again (406) if it has neither set: nothing to keep, an operator's call.
        queue = await channel.declare_queue(name, durable=True, arguments=legacy)
        log.warning(
            "queue %s keeps the arguments of an older release (dead-lettering through the "
            "default exchange); delete it while empty and stopped to have it declared anew",
            name,
        )
    await queue.bind(requeue, routing_key=name)
    return queue


async def _accepted(channel: AbstractChannel, name: str, arguments: dict[str, Any]) -> bool:
    """Whether the broker takes this declaration of ``name`` (and so the queue exists).

    It answers other arguments than an existing queue's by closing the channel (406), so
    the question is asked on a throwaway channel, never on the caller's.
    """
    underlay = await channel.get_underlay_channel()
    probe = await underlay.connection.channel(publisher_confirms=False)
    try:
        await probe.queue_declare(name, durable=True, arguments=arguments)
    except ChannelPreconditionFailed:
        return False
    finally:
        if not probe.is_closed:
            await probe.close()
    return True


def _dead_letter_to(exchange: str, queue: str, *, reliably: bool = True) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "x-dead-letter-exchange": exchange,
        "x-dead-letter-routing-key": queue,
    }
    if reliably:  # quorum queues only
        arguments["x-dead-letter-strategy"] = "at-least-once"
        arguments["x-overflow"] = "reject-publish"
    return arguments
