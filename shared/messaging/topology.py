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

Dead-lettering is at-least-once (RabbitMQ ≥ 3.10 quorum queues, needs
``x-overflow: reject-publish``): the broker keeps a message until the target queue
confirms it, so nothing is lost on the way to parked or back from retry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from shared.events import EVENT_TYPES
from shared.messaging.settings import AmqpSettings

EXCHANGE = "ticketing"


@dataclass(frozen=True)
class QueueNames:
    """The three queue names of one service."""

    main: str
    retry: str
    parked: str


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

    @classmethod
    def from_settings(cls, settings: AmqpSettings) -> Topology:
        return cls(
            namespace=settings.namespace,
            delivery_limit=settings.delivery_limit,
            retry_delay_ms=settings.retry_delay_ms,
            queue_type=settings.queue_type,
        )

    def _name(self, name: str) -> str:
        return f"{self.namespace}.{name}" if self.namespace else name

    @property
    def exchange_name(self) -> str:
        return self._name(EXCHANGE)

    def queue_names(self, service: str) -> QueueNames:
        main = self._name(service)
        return QueueNames(main=main, retry=f"{main}.retry", parked=f"{main}.parked")

    def main_arguments(self, service: str) -> dict[str, Any]:
        names = self.queue_names(service)
        if self.queue_type == "classic":
            return {"x-queue-type": "classic", **_dead_letter_to(names.parked, reliably=False)}
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            **_dead_letter_to(names.parked),
        }

    def retry_arguments(self, service: str) -> dict[str, Any]:
        names = self.queue_names(service)
        return {
            "x-queue-type": self.queue_type,
            "x-message-ttl": self.retry_delay_ms,
            **_dead_letter_to(names.main, reliably=self.queue_type == "quorum"),
        }

    def parked_arguments(self) -> dict[str, Any]:
        # No delivery limit and no dead-lettering: parked is the end of the line.
        return {"x-queue-type": self.queue_type}

    async def declare_exchange(self, channel: AbstractChannel) -> AbstractExchange:
        """The durable topic exchange every event is published on."""
        return await channel.declare_exchange(self.exchange_name, ExchangeType.TOPIC, durable=True)

    async def declare_service_queues(
        self, channel: AbstractChannel, service: str, routing_keys: Iterable[str] = ()
    ) -> ServiceQueues:
        """Declare the service's three queues; bind the work queue to exactly ``routing_keys``.

        Bindings outlive the process on a durable queue, so a key the service no
        longer subscribes to is unbound here (every key in the event catalogue is
        checked; unbinding a key that was never bound is a no-op).
        """
        names = self.queue_names(service)
        # Targets first, so no dead-letter ever points at a queue that does not exist.
        parked = await channel.declare_queue(
            names.parked, durable=True, arguments=self.parked_arguments()
        )
        main = await channel.declare_queue(
            names.main, durable=True, arguments=self.main_arguments(service)
        )
        retry = await channel.declare_queue(
            names.retry, durable=True, arguments=self.retry_arguments(service)
        )
        keys = sorted(set(routing_keys))
        exchange = await self.declare_exchange(channel)
        for key in keys:
            await main.bind(exchange, routing_key=key)
        for key in sorted(set(EVENT_TYPES) - set(keys)):
            await main.unbind(exchange, routing_key=key)
        return ServiceQueues(names=names, main=main, retry=retry, parked=parked)


def _dead_letter_to(queue: str, *, reliably: bool = True) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "x-dead-letter-exchange": "",  # the default exchange routes by queue name
        "x-dead-letter-routing-key": queue,
    }
    if reliably:  # quorum queues only
        arguments["x-dead-letter-strategy"] = "at-least-once"
        arguments["x-overflow"] = "reject-publish"
    return arguments
