"""orders' composition root: the only place that builds adapters from settings and starts
what runs in the background (the listeners, the outbox relay, the overdue-order sweep, the
revocation denylist's refresh), what ``python -m services.orders.rebuild`` rebuilds, and
the listeners a replay of the event log goes through (``open_replaying``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from aiohttp import web

from services.orders import service
from services.orders.adapters.orders import MongoOrderQueries
from services.orders.adapters.orders import create_indexes as create_order_indexes
from services.orders.adapters.uow import MongoUnitOfWork
from services.orders.api.app import create_app
from services.orders.api.keys import DEPS, SETTINGS
from services.orders.config import SERVICE, OrderSettings, Settings
from services.orders.listeners import subscriptions
from services.orders.service import Deps
from shared.backends import open_backends
from shared.background import every
from shared.config import Env
from shared.idempotency import mongo as idempotency
from shared.messaging import AmqpSettings, UnitOfWork
from shared.messaging.rebuild import MongoRebuilds, Rebuildable, Replica, serving_rebuilds
from shared.messaging.replay import Replaying, open_stores
from shared.mongo import Database, Mongo, MongoSettings
from shared.web import open_in_background

# orders' copy of the tickets service's tickets (`make rebuild SERVICE=orders REPLICA=tickets`).
TICKET_REPLICA = Replica(
    name="tickets", entity="ticket", collection="tickets", events=("ticket.*",)
)
REBUILDABLE = Rebuildable(service=SERVICE, replicas={TICKET_REPLICA.name: TICKET_REPLICA})


async def create_indexes(db: Database) -> None:
    await create_order_indexes(db)
    await idempotency.create_indexes(db)
    await MongoRebuilds(db).ensure_indexes()


def build_deps(
    mongo: Mongo, uow: UnitOfWork, orders: OrderSettings, rebuilds: MongoRebuilds
) -> Deps:
    return Deps(
        uow=MongoUnitOfWork(mongo.db, uow),
        orders=MongoOrderQueries(mongo.db),
        hold_s=orders.expiration_s,
        max_open_per_user=orders.max_open_per_user,
        rebuilds=rebuilds,
    )


@asynccontextmanager
async def open_replaying(
    mongo: MongoSettings, amqp: AmqpSettings, env: Env
) -> AsyncIterator[Replaying]:
    """orders' listeners on its own stores, for ``python -m shared.messaging.replay``."""
    async with open_stores(mongo, amqp, service=SERVICE, setup=create_indexes) as stores:
        rebuilds = MongoRebuilds.of(stores.mongo)
        deps = build_deps(stores.mongo, stores.uow, OrderSettings.from_env(env), rebuilds)
        yield Replaying(stores.messaging, subscriptions(deps))


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """MongoDB, then messaging; listeners and the sweep start once the use cases can run."""
    settings = app[SETTINGS]
    async with open_backends(app, settings, service=SERVICE, setup=create_indexes) as backends:
        rebuilds = MongoRebuilds.of(backends.mongo)
        deps = build_deps(backends.mongo, backends.uow, settings.orders, rebuilds)
        await backends.start_consuming(subscriptions(deps))
        # The safety net for a lost expiration job: without it a ticket could stay held.
        overdue = partial(service.cancel_overdue, deps=deps, grace_s=settings.orders.sweep_grace_s)
        async with (
            every(settings.orders.sweep_interval_s, overdue, what="overdue-order sweep"),
            serving_rebuilds(app, REBUILDABLE, backends, rebuilds, subscriptions(deps)),
        ):
            yield deps


def create_service(settings: Settings) -> web.Application:
    """The HTTP app, with the real adapters opened (and retried) in the background."""
    app = create_app(settings)
    app[DEPS] = open_in_background(app, open_deps)
    return app
