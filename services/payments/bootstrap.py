"""payments' composition root: the only place that builds adapters from settings and starts
what runs in the background (the order listeners, the outbox relay, the refund sweep),
what ``python -m services.payments.rebuild`` rebuilds, and the listeners a replay of the
event log goes through (``open_replaying``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import NoReturn

from aiohttp import web

from services.payments import service
from services.payments.adapters.orders import MongoOrderReplica
from services.payments.adapters.payments import MongoPaymentRepository
from services.payments.adapters.payments import create_indexes as create_payment_indexes
from services.payments.adapters.stripe import open_stripe
from services.payments.adapters.uow import MongoUnitOfWork
from services.payments.api.app import create_app
from services.payments.api.keys import DEPS, SETTINGS
from services.payments.config import SERVICE, Settings, StripeSettings
from services.payments.listeners import subscriptions
from services.payments.ports import PaymentGateway
from services.payments.service import Deps
from shared.backends import open_backends
from shared.background import every
from shared.config import Env
from shared.idempotency.mongo import create_indexes as create_idempotency_indexes
from shared.messaging import AmqpSettings, UnitOfWork
from shared.messaging.rebuild import MongoRebuilds, Rebuildable, Replica, serving_rebuilds
from shared.messaging.replay import Replaying, open_stores
from shared.mongo import Database, Mongo, MongoSettings
from shared.runner import run_service
from shared.web import open_in_background

# payments' copy of the orders service's orders (`make rebuild SERVICE=payments REPLICA=orders`).
ORDER_REPLICA = Replica(name="orders", entity="order", collection="orders", events=("order.*",))
REBUILDABLE = Rebuildable(service=SERVICE, replicas={ORDER_REPLICA.name: ORDER_REPLICA})


async def create_indexes(db: Database) -> None:
    await create_payment_indexes(db)
    await create_idempotency_indexes(db)
    await MongoRebuilds(db).ensure_indexes()


def build_deps(
    mongo: Mongo, uow: UnitOfWork, gateway: PaymentGateway, rebuilds: MongoRebuilds
) -> Deps:
    return Deps(
        orders=MongoOrderReplica(mongo.db),
        payments=MongoPaymentRepository(mongo.db),
        stripe=gateway,
        uow=MongoUnitOfWork(uow, mongo.db),
        rebuilds=rebuilds,
    )


@asynccontextmanager
async def open_replaying(
    mongo: MongoSettings, amqp: AmqpSettings, env: Env
) -> AsyncIterator[Replaying]:
    """payments' listeners on its own stores and Stripe (``STRIPE_*``: a replayed
    cancellation refunds what the order kept), for ``python -m shared.messaging.replay``."""
    async with (
        open_stores(mongo, amqp, service=SERVICE, setup=create_indexes) as stores,
        open_stripe(StripeSettings.from_env(env)) as gateway,
    ):
        deps = build_deps(stores.mongo, stores.uow, gateway, MongoRebuilds.of(stores.mongo))
        yield Replaying(stores.messaging, subscriptions(deps))


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """MongoDB, messaging and Stripe; the listeners and the refund sweep start once the use
    cases can run. ``app`` gets the readiness checks and holds the sessions denylist."""
    settings = app[SETTINGS]
    async with (
        open_backends(app, settings, service=SERVICE, setup=create_indexes) as backends,
        open_stripe(settings.stripe) as gateway,
    ):
        rebuilds = MongoRebuilds.of(backends.mongo)
        deps = build_deps(backends.mongo, backends.uow, gateway, rebuilds)
        await backends.start_consuming(subscriptions(deps))
        # What keeps "refunded" true after Stripe was down when a refund was decided, or
        # the process died between deciding it and making it.
        refunds = partial(service.retry_refunds, deps=deps)
        async with (
            every(settings.refunds.sweep_interval_s, refunds, what="refund sweep"),
            serving_rebuilds(app, REBUILDABLE, backends, rebuilds, subscriptions(deps)),
        ):
            yield deps


def create_service(settings: Settings) -> web.Application:
    """The HTTP app, with the real adapters opened (and retried) in the background."""
    app = create_app(settings)
    app[DEPS] = open_in_background(app, open_deps)
    return app


def main() -> NoReturn:
    run_service(SERVICE, Settings.from_env, create_service)
