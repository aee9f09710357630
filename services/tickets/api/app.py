"""tickets' app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from services.tickets.adapters.tickets import MongoTicketRepository, create_indexes
from services.tickets.api.handlers import routes
from services.tickets.api.keys import DEPS, SETTINGS
from services.tickets.config import SERVICE, Settings
from services.tickets.listeners import subscriptions
from services.tickets.service import Deps
from shared.auth import (
    REVOKED_SESSIONS,
    RevokedSessions,
    denylist_kept_fresh,
    identity_middlewares,
    revocation_subscription,
)
from shared.backends import open_backends
from shared.web import add_openapi, base_app, open_in_background


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """MongoDB, then messaging; listeners start once the use cases can run."""
    settings = app[SETTINGS]
    async with (
        open_backends(
            app, settings.mongo, settings.amqp, service=SERVICE, setup=create_indexes
        ) as backends,
        denylist_kept_fresh(
            backends.mongo.db, app[REVOKED_SESSIONS], settings.identity.revocation_refresh_s
        ) as revocations,
    ):
        deps = Deps(tickets=MongoTicketRepository(backends.mongo.db), uow=backends.uow)
        await backends.messaging.start_consuming(
            [*subscriptions(deps), revocation_subscription(revocations)]
        )
        yield deps


def create_app(settings: Settings) -> web.Application:
    revoked = RevokedSessions()
    app = base_app(settings.http, identity_middlewares(settings.identity, revoked))
    app[REVOKED_SESSIONS] = revoked
    app[SETTINGS] = settings
    app[DEPS] = open_in_background(app, open_deps)
    app.add_routes(routes)
    add_openapi(app, "/api/tickets/openapi.json", title="tickets: /api/tickets")
    return app
