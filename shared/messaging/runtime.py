"""Opening a service's messaging: one robust connection, its publisher and consumer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from yarl import URL

from shared.config import mask_url
from shared.errors import ServiceUnavailable
from shared.messaging.consumer import Consumer, Subscription
from shared.messaging.publisher import Publisher
from shared.messaging.settings import AmqpSettings
from shared.messaging.topology import Topology

log = logging.getLogger(__name__)

# aio-pika waits 5 s between reconnect attempts by default; a consumer that is down
# that long for a broker blip makes readiness flap for no reason. A
# ``reconnect_interval`` in the URL's query still wins.
RECONNECT_INTERVAL_S = 1.0
SHUTDOWN_TIMEOUT_S = 10.0


async def connect(url: str, *, connection_name: str) -> AbstractRobustConnection:
    """A robust connection named ``connection_name`` (shown by ``rabbitmqctl list_connections``)."""
    extra: dict[str, Any] = {}
    if "reconnect_interval" not in URL(url).query:
        extra["reconnect_interval"] = RECONNECT_INTERVAL_S
    connection: AbstractRobustConnection = await aio_pika.connect_robust(
        url, client_properties={"connection_name": connection_name}, **extra
    )
    return connection


@dataclass
class Messaging:
    """A service's link to the broker: connection, topology, publisher and, once started,
    its consumer. No MongoDB: the outbox and inbox are ``shared.messaging.transactional``."""

    connection: AbstractRobustConnection
    topology: Topology
    publisher: Publisher
    settings: AmqpSettings
    service: str
    consumer: Consumer | None = None

    def _unready_reason(self) -> str | None:
        if self.connection.is_closed or not self.connection.connected.is_set():
            return "RabbitMQ connection is down"
        if self.consumer is not None and not self.consumer.ready:
            return "RabbitMQ consumer is not consuming"
        return None

    @property
    def ready(self) -> bool:
        """True while the connection is up and, if there is one, the consumer consumes."""
        return self._unready_reason() is None

    async def start_consuming(self, subscriptions: Sequence[Subscription[Any]]) -> Consumer:
        """Start the service's consumer; for handlers that need ``uow`` built first.

        Stopped on exit of ``open_messaging`` like one started there.
        """
        if self.consumer is not None:
            raise RuntimeError(f"{self.service} is already consuming")
        consumer = Consumer(
            self.connection, self.topology, self.service, subscriptions, self.settings
        )
        await consumer.start()
        self.consumer = consumer
        return consumer

    async def stop_consuming(self) -> None:
        """Stop the consumer, letting in-flight handlers finish; no-op when there is none.

        Called again on exit of ``open_messaging``, where it does nothing more.
        """
        if self.consumer is not None:
            await self.consumer.stop(SHUTDOWN_TIMEOUT_S)

    async def check_ready(self) -> None:
        """Raise ``ServiceUnavailable`` unless ready (for ``/readyz``)."""
        if (reason := self._unready_reason()) is not None:
            raise ServiceUnavailable(reason)


@asynccontextmanager
async def open_messaging(
    settings: AmqpSettings,
    *,
    service: str,
    subscriptions: Sequence[Subscription[Any]] = (),
    connection_name: str | None = None,
) -> AsyncIterator[Messaging]:
    """Connect, declare, start the publisher and (given ``subscriptions``) consuming; undo
    it all on exit. AMQP only: ``open_transactional`` adds the outbox, inbox and unit of
    work on MongoDB for a service that has them."""
    connection = await connect(settings.url, connection_name=connection_name or service)
    log.info("connected to %s as %s", mask_url(settings.url), connection_name or service)
    topology = Topology.from_settings(settings)
    messaging = Messaging(
        connection=connection,
        topology=topology,
        publisher=Publisher(connection, topology),
        settings=settings,
        service=service,
    )
    try:
        await messaging.publisher.start()
        if subscriptions:
            await messaging.start_consuming(subscriptions)
        yield messaging
    finally:
        # The connection closes last, under the publisher and the consumer.
        await messaging.stop_consuming()
        await messaging.publisher.close()
        await messaging.connection.close()
        log.info("messaging of %s closed", service)
