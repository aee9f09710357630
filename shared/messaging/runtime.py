"""Opening a service's messaging: one robust connection, publisher, consumer, outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
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
from shared.messaging.inbox import Inbox
from shared.messaging.outbox import Outbox, OutboxRelay
from shared.messaging.publisher import Publisher
from shared.messaging.settings import AmqpSettings
from shared.messaging.topology import Topology
from shared.messaging.uow import UnitOfWork
from shared.mongo import Mongo

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
    """Everything a service uses to talk to the others."""

    connection: AbstractRobustConnection
    topology: Topology
    publisher: Publisher
    settings: AmqpSettings
    service: str
    consumer: Consumer | None = None
    outbox: Outbox | None = None
    relay: OutboxRelay | None = None
    inbox: Inbox | None = None
    uow: UnitOfWork | None = None

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

    async def check_ready(self) -> None:
        """Raise ``ServiceUnavailable`` unless ready (for ``/readyz``)."""
        if (reason := self._unready_reason()) is not None:
            raise ServiceUnavailable(reason)


@asynccontextmanager
async def open_messaging(
    settings: AmqpSettings,
    *,
    service: str,
    mongo: Mongo | None,
    subscriptions: Sequence[Subscription[Any]] = (),
    connection_name: str | None = None,
) -> AsyncIterator[Messaging]:
    """Connect, declare, start consuming and relaying; undo it all on exit.

    Meant for an aiohttp ``cleanup_ctx``. Without ``mongo`` there is no outbox,
    inbox or unit of work (a publisher-only or stateless process).
    """
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
    relay_task: asyncio.Task[None] | None = None
    try:
        await messaging.publisher.start()
        if mongo is not None:
            messaging.outbox = Outbox(mongo.db, exclusive=mongo.exclusive)
            messaging.inbox = Inbox(mongo.db, service)
            await messaging.outbox.ensure_indexes()
            await messaging.inbox.ensure_indexes()
            messaging.relay = OutboxRelay(
                messaging.outbox, messaging.publisher, settings.sweep_interval_s
            )
            messaging.uow = UnitOfWork(mongo, messaging.outbox, messaging.relay, messaging.inbox)
            relay_task = asyncio.create_task(messaging.relay.run(), name=f"{service}-outbox-relay")
        if subscriptions:
            await messaging.start_consuming(subscriptions)
        yield messaging
    finally:
        await _shutdown(messaging, relay_task, service)


async def _shutdown(
    messaging: Messaging, relay_task: asyncio.Task[None] | None, service: str
) -> None:
    # Order matters: in-flight handlers may emit events, so the consumer stops
    # before the last flush, and the connection closes last.
    if messaging.consumer is not None:
        await messaging.consumer.stop(SHUTDOWN_TIMEOUT_S)
    if relay_task is not None and messaging.relay is not None:
        # Let the relay finish its pass: cancelling it mid-publish would leave an
        # entry leased, and the final flush would skip it.
        messaging.relay.stop()
        try:
            await asyncio.wait_for(asyncio.shield(relay_task), SHUTDOWN_TIMEOUT_S)
        except Exception as exc:
            log.warning("outbox relay of %s did not stop cleanly: %r", service, exc)
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task
    if messaging.relay is not None and not messaging.connection.is_closed:
        try:
            await asyncio.wait_for(messaging.relay.flush(), SHUTDOWN_TIMEOUT_S)
        except Exception as exc:  # the sweep of the next start publishes what is left
            log.warning("final outbox flush of %s failed: %r", service, exc)
    await messaging.publisher.close()
    await messaging.connection.close()
    log.info("messaging of %s closed", service)
