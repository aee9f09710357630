"""expiration's composition root, for both processes: the only place that builds adapters
from settings and starts what runs in the background (the listener's ``order.created``
consumer; the worker's arq worker, under its supervisor)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from aiohttp import web
from arq.connections import ArqRedis
from arq.worker import Worker, func

from services.expiration.adapters.clock import SystemClock
from services.expiration.adapters.jobs import (
    EXPIRE_ORDER,
    ArqExpiryJobs,
    dump_job,
    load_job,
    open_redis,
    ping,
)
from services.expiration.api.app import SETTINGS, create_app
from services.expiration.config import SERVICE, ExpirySettings, Settings
from services.expiration.listeners import subscriptions
from services.expiration.service import ListenerDeps, WorkerDeps
from services.expiration.worker.jobs import JOB_DEPS, JOB_SETTINGS, expire_order
from services.expiration.worker.supervisor import WorkerSupervisor
from shared.messaging import open_messaging
from shared.web import add_readiness_check, open_in_background

WORKER_NAME = f"{SERVICE}-worker"


@asynccontextmanager
async def open_listener_deps(app: web.Application) -> AsyncIterator[ListenerDeps]:
    """Redis, then messaging; on exit the consumer stops before Redis closes."""
    settings = app[SETTINGS]
    async with (
        open_redis(settings.redis) as redis,
        open_messaging(settings.amqp, service=SERVICE) as messaging,
    ):
        deps = ListenerDeps(
            jobs=ArqExpiryJobs(redis, settings.expiry.queue_name), clock=SystemClock()
        )
        add_readiness_check(app, "redis", partial(ping, redis))
        add_readiness_check(app, "rabbitmq", messaging.check_ready)
        await messaging.start_consuming(subscriptions(deps))
        yield deps


def build_worker(redis: ArqRedis, deps: WorkerDeps, settings: ExpirySettings) -> Worker:
    """An arq worker on our queue and Redis client, for running inside this event loop."""
    return Worker(
        [func(expire_order, name=EXPIRE_ORDER)],
        queue_name=settings.queue_name,
        redis_pool=redis,
        ctx={JOB_DEPS: deps, JOB_SETTINGS: settings},
        handle_signals=False,  # aiohttp owns the signals and stops us from its cleanup
        poll_delay=settings.poll_delay_s,
        max_jobs=settings.max_jobs,
        job_timeout=settings.job_timeout_s,
        keep_result=settings.keep_result_s,
        max_tries=settings.max_tries,
        job_serializer=dump_job,
        job_deserializer=load_job,
    )


@asynccontextmanager
async def open_worker_deps(app: web.Application) -> AsyncIterator[WorkerDeps]:
    """Redis and a publisher, then the worker; on exit the worker drains before they close."""
    settings = app[SETTINGS]
    async with (
        open_redis(settings.redis) as redis,
        open_messaging(settings.amqp, service=SERVICE, connection_name=WORKER_NAME) as messaging,
    ):
        deps = WorkerDeps(publisher=messaging.publisher, clock=SystemClock())
        supervisor = WorkerSupervisor(
            partial(build_worker, redis, deps, settings.expiry), name=WORKER_NAME
        )
        add_readiness_check(app, "redis", partial(ping, redis))
        add_readiness_check(app, "rabbitmq", messaging.check_ready)
        add_readiness_check(app, "worker", supervisor.check_ready)
        # What startup built lives as long as the process: frozen out of the collector's
        # sight, a full collection no longer walks it. Walking it paused the event loop,
        # and so every job due meanwhile, for 50-100 ms (the lateness p99 of the bench).
        gc.freeze()
        supervisor.start()
        try:
            yield deps
        finally:
            await supervisor.stop()


def create_listener(settings: Settings) -> web.Application:
    """``python -m services.expiration``: schedules an expiry job per ``order.created``."""
    app = create_app(settings)
    open_in_background(app, open_listener_deps)
    return app


def create_worker(settings: Settings) -> web.Application:
    """``python -m services.expiration.worker``: runs the jobs, publishes their expiry."""
    app = create_app(settings)
    open_in_background(app, open_worker_deps)
    return app
