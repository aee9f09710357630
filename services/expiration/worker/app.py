"""The expiration worker's app: runs the expiry jobs, serves /healthz and /readyz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from aiohttp import web

from services.expiration.adapters.jobs import open_redis, ping
from services.expiration.config import SERVICE, Settings
from services.expiration.service import WorkerDeps
from services.expiration.worker.jobs import build_worker
from services.expiration.worker.supervisor import WorkerSupervisor
from shared.messaging import open_messaging
from shared.web import add_readiness_check, base_app, open_in_background

SETTINGS = web.AppKey("settings", Settings)
WORKER_NAME = f"{SERVICE}-worker"


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[WorkerDeps]:
    """Redis and a publisher, then the worker; on exit the worker drains before they close."""
    settings = app[SETTINGS]
    async with (
        open_redis(settings.redis) as redis,
        open_messaging(settings.amqp, service=SERVICE, connection_name=WORKER_NAME) as messaging,
    ):
        deps = WorkerDeps(publisher=messaging.publisher)
        supervisor = WorkerSupervisor(
            partial(build_worker, redis, deps, settings.expiry), name=WORKER_NAME
        )
        add_readiness_check(app, "redis", partial(ping, redis))
        add_readiness_check(app, "rabbitmq", messaging.check_ready)
        add_readiness_check(app, "worker", supervisor.check_ready)
        supervisor.start()
        try:
            yield deps
        finally:
            await supervisor.stop()


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings.http)
    app[SETTINGS] = settings
    open_in_background(app, open_deps)
    return app
