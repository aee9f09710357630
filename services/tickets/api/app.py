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
from shared.auth import TokenVerifier, current_user_middleware, session_middleware
from shared.messaging import open_messaging
from shared.mongo import open_mongo
from shared.web import add_openapi, add_readiness_check, base_app, open_in_background


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """MongoDB, then messaging; listeners start once the use cases can run."""
    settings = app[SETTINGS]
    async with (
        open_mongo(settings.mongo, create_indexes) as mongo,
        open_messaging(settings.amqp, service=SERVICE, mongo=mongo) as messaging,
    ):
        assert messaging.uow is not None  # there is one whenever mongo is given
        deps = Deps(tickets=MongoTicketRepository(mongo.db), uow=messaging.uow)
        add_readiness_check(app, "mongo", mongo.ping)
        add_readiness_check(app, "rabbitmq", messaging.check_ready)
        await messaging.start_consuming(subscriptions(deps))
        yield deps


def create_app(settings: Settings) -> web.Application:
    verifier = TokenVerifier(settings.identity.jwt_public_key)
    app = base_app(
        settings.http,
        [session_middleware(settings.identity), current_user_middleware(verifier)],
    )
    app[SETTINGS] = settings
    app[DEPS] = open_in_background(app, open_deps)
    app.add_routes(routes)
    add_openapi(app, "/api/tickets/openapi.json", title="tickets: /api/tickets")
    return app
