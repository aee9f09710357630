"""The arq job that expires an order, and the arq worker that runs it."""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Retry, Worker, func

from services.expiration import service
from services.expiration.adapters.jobs import EXPIRE_ORDER, dump_job, load_job
from services.expiration.config import ExpirySettings
from shared.messaging import PublishFailed

log = logging.getLogger(__name__)

# What ``build_worker`` puts in arq's ``ctx`` for the job.
DEPS = "deps"
SETTINGS = "settings"


async def expire_order(ctx: dict[str, Any], order_id: str, expires_at_ms: int) -> None:
    """Announce the order's expiry; retried with a growing delay until confirmed."""
    deps: service.WorkerDeps = ctx[DEPS]
    settings: ExpirySettings = ctx[SETTINGS]
    try:
        await service.announce_expiration(order_id, expires_at_ms, deps=deps)
    except PublishFailed as exc:
        job_try: int = ctx["job_try"]
        if job_try >= settings.max_tries:
            log.error(
                "giving up on the expiry of order %s after %d tries (orders' sweeper "
                "will expire it): %s",
                order_id,
                job_try,
                exc,
            )
            raise
        delay_s = settings.retry_delay_s(job_try)
        log.warning(
            "expiry of order %s not confirmed (try %d), retrying in %.1f s: %s",
            order_id,
            job_try,
            delay_s,
            exc,
        )
        raise Retry(defer=delay_s) from exc


def build_worker(redis: ArqRedis, deps: service.WorkerDeps, settings: ExpirySettings) -> Worker:
    """An arq worker on our queue and Redis client, for running inside this event loop."""
    return Worker(
        [func(expire_order, name=EXPIRE_ORDER)],
        queue_name=settings.queue_name,
        redis_pool=redis,
        ctx={DEPS: deps, SETTINGS: settings},
        handle_signals=False,  # aiohttp owns the signals and stops us from its cleanup
        poll_delay=settings.poll_delay_s,
        max_jobs=settings.max_jobs,
        job_timeout=settings.job_timeout_s,
        keep_result=settings.keep_result_s,
        max_tries=settings.max_tries,
        job_serializer=dump_job,
        job_deserializer=load_job,
    )
