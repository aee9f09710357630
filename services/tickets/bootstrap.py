"""tickets' composition root: the only place that builds adapters from settings and
starts what runs in the background (the order listeners, the outbox relay, the
revocation denylist's refresh), and the listeners a replay of the event log goes through
(``open_replaying``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from services.tickets.adapters.tickets import (
    MongoTicketCatalog,
    MongoUnitOfWork,
    create_indexes,
)
from services.tickets.api.app import create_app
from services.tickets.api.keys import DEPS, SETTINGS
from services.tickets.config import SERVICE, Settings
from services.tickets.listeners import subscriptions
from services.tickets.service import Deps
from shared.backends import open_backends
from shared.config import Env
from shared.messaging import AmqpSettings, UnitOfWork
from shared.messaging.replay import Replaying, open_stores
from shared.mongo import Mongo, MongoSettings
from shared.web import open_in_background


def build_deps(mongo: Mongo, uow: UnitOfWork) -> Deps:
    return Deps(uow=MongoUnitOfWork(mongo.db, uow), tickets=MongoTicketCatalog(mongo.db))


@asynccontextmanager
async def open_replaying(
    mongo: MongoSettings, amqp: AmqpSettings, env: Env
) -> AsyncIterator[Replaying]:
    """tickets' listeners on its own stores, for ``python -m shared.messaging.replay``."""
    async with open_stores(mongo, amqp, service=SERVICE, setup=create_indexes) as stores:
        yield Replaying(stores.messaging, subscriptions(build_deps(stores.mongo, stores.uow)))


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """MongoDB, then messaging; listeners start once the use cases can run."""
    settings = app[SETTINGS]
    async with open_backends(app, settings, service=SERVICE, setup=create_indexes) as backends:
        deps = build_deps(backends.mongo, backends.uow)
        await backends.start_consuming(subscriptions(deps))
        yield deps


def create_service(settings: Settings) -> web.Application:
    """The HTTP app, with the real adapters opened (and retried) in the background."""
    app = create_app(settings)
    app[DEPS] = open_in_background(app, open_deps)
    return app
