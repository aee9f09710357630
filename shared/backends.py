"""The backends an event-driven API service stands on, opened together with their readiness
checks, for a service's ``open_deps`` (see ``shared.web.startup``): MongoDB, then messaging
with its outbox, inbox and unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from shared.messaging import AmqpSettings, Messaging, UnitOfWork, open_messaging
from shared.messaging.transactional import open_transactional
from shared.mongo import Mongo, MongoSettings, Setup, open_mongo
from shared.web.health import add_readiness_check


@dataclass(frozen=True)
class Backends:
    mongo: Mongo
    messaging: Messaging
    uow: UnitOfWork  # writes and the events they announce, in one transaction


@asynccontextmanager
async def open_backends(
    app: web.Application,
    mongo: MongoSettings,
    amqp: AmqpSettings,
    *,
    service: str,
    setup: Setup,
) -> AsyncIterator[Backends]:
    """MongoDB (``setup`` creates the indexes), then messaging with its outbox and inbox;
    ``mongo`` and ``rabbitmq`` readiness checks. Consuming is left to the caller, which
    starts it once its handlers' dependencies exist."""
    async with (
        open_mongo(mongo, setup) as opened,
        open_messaging(amqp, service=service) as messaging,
        open_transactional(messaging, opened) as transactional,
    ):
        add_readiness_check(app, "mongo", opened.ping)
        add_readiness_check(app, "rabbitmq", messaging.check_ready)
        yield Backends(opened, messaging, transactional.uow)
