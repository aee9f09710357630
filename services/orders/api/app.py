"""orders' app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from aiohttp import web

from services.orders import service
from services.orders.adapters.orders import MongoOrderRepository
from services.orders.adapters.orders import create_indexes as create_order_indexes
from services.orders.adapters.tickets import MongoTicketReplica
from services.orders.api.handlers import routes
from services.orders.api.keys import DEPS, SETTINGS
from services.orders.config import SERVICE, Settings
from services.orders.listeners import subscriptions
from services.orders.service import Deps
from shared import idempotency
from shared.auth import (
    REVOKED_SESSIONS,
    RevokedSessions,
    denylist_kept_fresh,
    identity_middlewares,
    revocation_subscription,
)
from shared.backends import open_backends
from shared.background import every
from shared.mongo import Database
from shared.web import add_openapi, base_app, open_in_background


async def create_indexes(db: Database) -> None:
    await create_order_indexes(db)
    await idempotency.create_indexes(db)


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """MongoDB, then messaging; listeners and the sweep start once the use cases can run."""
    settings = app[SETTINGS]
    async with (
        open_backends(
            app, settings.mongo, settings.amqp, service=SERVICE, setup=create_indexes
        ) as backends,
        denylist_kept_fresh(
            backends.mongo.db, app[REVOKED_SESSIONS], settings.identity.revocation_refresh_s
        ) as revocations,
    ):
        tickets = MongoTicketReplica(backends.mongo.db)
        deps = Deps(
            orders=MongoOrderRepository(backends.mongo.db, tickets),
            tickets=tickets,
            idempotency=idempotency.IdempotencyStore(backends.mongo.db),
            uow=backends.uow,
            hold_s=settings.orders.expiration_s,
            max_open_per_user=settings.orders.max_open_per_user,
        )
        await backends.messaging.start_consuming(
            [*subscriptions(deps), revocation_subscription(revocations)]
        )
        # The safety net for a lost expiration job: without it a ticket could stay held.
        overdue = partial(service.cancel_overdue, deps=deps, grace_s=settings.orders.sweep_grace_s)
        async with every(settings.orders.sweep_interval_s, overdue, what="overdue-order sweep"):
            yield deps


def create_app(settings: Settings) -> web.Application:
    revoked = RevokedSessions()
    app = base_app(settings.http, identity_middlewares(settings.identity, revoked))
    app[REVOKED_SESSIONS] = revoked
    app[SETTINGS] = settings
    app[DEPS] = open_in_background(app, open_deps)
    app.add_routes(routes)
    add_openapi(app, "/api/orders/openapi.json", title="orders: /api/orders")
    return app
