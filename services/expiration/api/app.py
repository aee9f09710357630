"""The expiration listener's app: consumes ``order.created``, serves /healthz and /readyz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from aiohttp import web

from services.expiration.adapters.jobs import ArqExpiryJobs, open_redis, ping
from services.expiration.config import SERVICE, Settings
from services.expiration.listeners import subscriptions
from services.expiration.service import ListenerDeps
from shared.messaging import open_messaging
from shared.web import add_readiness_check, base_app, open_in_background

SETTINGS = web.AppKey("settings", Settings)


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[ListenerDeps]:
    """Redis, then messaging; on exit the consumer stops before Redis closes."""
    settings = app[SETTINGS]
    async with (
        open_redis(settings.redis) as redis,
        open_messaging(settings.amqp, service=SERVICE) as messaging,
    ):
        deps = ListenerDeps(jobs=ArqExpiryJobs(redis, settings.expiry.queue_name))
        add_readiness_check(app, "redis", partial(ping, redis))
        add_readiness_check(app, "rabbitmq", messaging.check_ready)
        await messaging.start_consuming(subscriptions(deps))
        yield deps


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings.http)
    app[SETTINGS] = settings
    open_in_background(app, open_deps)
    return app
