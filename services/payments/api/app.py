"""payments' app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from services.payments.adapters.orders import MongoOrderRepository
from services.payments.adapters.payments import MongoPaymentRepository
from services.payments.adapters.payments import create_indexes as create_payment_indexes
from services.payments.adapters.stripe import open_stripe
from services.payments.api.handlers import routes
from services.payments.api.keys import DEPS, SETTINGS
from services.payments.config import SERVICE, Settings
from services.payments.listeners import subscriptions
from services.payments.service import Deps
from shared import idempotency
from shared.auth import TokenVerifier, current_user_middleware, session_middleware
from shared.messaging import open_messaging
from shared.mongo import Database, open_mongo
from shared.web import add_openapi, add_readiness_check, base_app, open_in_background


async def create_indexes(db: Database) -> None:
    await create_payment_indexes(db)
    await idempotency.create_indexes(db)


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """MongoDB, messaging and Stripe; listeners start once the use cases can run."""
    settings = app[SETTINGS]
    async with (
        open_mongo(settings.mongo, create_indexes) as mongo,
        open_messaging(settings.amqp, service=SERVICE, mongo=mongo) as messaging,
        open_stripe(settings.stripe) as gateway,
    ):
        assert messaging.uow is not None  # there is one whenever mongo is given
        deps = Deps(
            orders=MongoOrderRepository(mongo.db),
            payments=MongoPaymentRepository(mongo.db),
            stripe=gateway,
            idempotency=idempotency.IdempotencyStore(mongo.db),
            uow=messaging.uow,
        )
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
    add_openapi(app, "/api/payments/openapi.json", title="payments: /api/payments")
    return app
