"""The outbox, the inbox and the unit of work, opened on MongoDB next to a service's
messaging: what a service that stores state needs to write an entity and its events in one
transaction (architecture §5). A stateless service (expiration) opens ``open_messaging``
alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from shared.messaging.inbox import Inbox
from shared.messaging.outbox import Outbox, OutboxRelay
from shared.messaging.runtime import SHUTDOWN_TIMEOUT_S, Messaging
from shared.messaging.uow import UnitOfWork
from shared.mongo import Mongo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Transactional:
    """Writes and the events they announce, in one transaction, published by the relay."""

    outbox: Outbox
    inbox: Inbox
    relay: OutboxRelay
    uow: UnitOfWork


@asynccontextmanager
async def open_transactional(messaging: Messaging, mongo: Mongo) -> AsyncIterator[Transactional]:
    """Index the outbox and inbox, run the relay through ``messaging.publisher``; on exit
    stop the consumer, then the relay, then publish what is still pending.

    Open it inside ``open_messaging``, so the connection outlives the last flush.
    """
    outbox = Outbox(mongo.db, exclusive=mongo.exclusive)
    inbox = Inbox(mongo.db, messaging.service)
    await outbox.ensure_indexes()
    await inbox.ensure_indexes()
    relay = OutboxRelay(outbox, messaging.publisher, messaging.settings.sweep_interval_s)
    uow = UnitOfWork(mongo, outbox, relay, inbox)
    task = asyncio.create_task(relay.run(), name=f"{messaging.service}-outbox-relay")
    try:
        yield Transactional(outbox, inbox, relay, uow)
    finally:
        # In-flight handlers may still emit events: the consumer stops before the last
        # flush, or what they emit would wait for the next start's sweep.
        await messaging.stop_consuming()
        await _stop(relay, task, messaging.service)
        if not messaging.connection.is_closed:
            try:
                await asyncio.wait_for(relay.flush(), SHUTDOWN_TIMEOUT_S)
            except Exception as exc:  # the sweep of the next start publishes what is left
                log.warning("final outbox flush of %s failed: %r", messaging.service, exc)


async def _stop(relay: OutboxRelay, task: asyncio.Task[None], service: str) -> None:
    # Let the relay finish its pass: cancelling it mid-publish would leave an entry
    # leased, and the final flush would skip it.
    relay.stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_TIMEOUT_S)
    except Exception as exc:
        log.warning("outbox relay of %s did not stop cleanly: %r", service, exc)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
