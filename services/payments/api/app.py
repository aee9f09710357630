"""payments' app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from aiohttp import web

from services.payments import service
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
    await create_payment_indexes(db)
    await idempotency.create_indexes(db)


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """MongoDB, messaging and Stripe; listeners and the refund sweep start once the use
    cases can run."""
    settings = app[SETTINGS]
    async with (
        open_backends(
            app, settings.mongo, settings.amqp, service=SERVICE, setup=create_indexes
        ) as backends,
        denylist_kept_fresh(
            backends.mongo.db, app[REVOKED_SESSIONS], settings.identity.revocation_refresh_s
        ) as revocations,
        open_stripe(settings.stripe) as gateway,
    ):
        deps = Deps(
            orders=MongoOrderRepository(backends.mongo.db),
            payments=MongoPaymentRepository(backends.mongo.db),
            stripe=gateway,
            idempotency=idempotency.IdempotencyStore(backends.mongo.db),
            uow=backends.uow,
        )
        await backends.messaging.start_consuming(
            [*subscriptions(deps), revocation_subscription(revocations)]
        )
        # What keeps "refunded" true after Stripe was down when a refund was decided, or
        # the process died between deciding it and making it.
        refunds = partial(service.retry_refunds, deps=deps)
        async with every(settings.refunds.sweep_interval_s, refunds, what="refund sweep"):
            yield deps


def create_app(settings: Settings) -> web.Application:
    revoked = RevokedSessions()
    app = base_app(settings.http, identity_middlewares(settings.identity, revoked))
    app[REVOKED_SESSIONS] = revoked
    app[SETTINGS] = settings
    app[DEPS] = open_in_background(app, open_deps)
    app.add_routes(routes)
    add_openapi(app, "/api/payments/openapi.json", title="payments: /api/payments")
    return app
