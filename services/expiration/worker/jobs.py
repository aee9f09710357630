"""The arq job that expires an order: the worker's entrypoint, as listeners.py is the
listener's. ``bootstrap.build_worker`` builds the arq worker that runs it."""

from __future__ import annotations

import logging
from typing import Any

from arq.worker import Retry

from services.expiration import service
from services.expiration.config import ExpirySettings
from shared.messaging import PublishFailed

log = logging.getLogger(__name__)

# What ``bootstrap.build_worker`` puts in arq's ``ctx`` for the job.
JOB_DEPS = "deps"
JOB_SETTINGS = "settings"


async def expire_order(ctx: dict[str, Any], order_id: str, expires_at_ms: int) -> None:
    """Announce the order's expiry; retried with a growing delay until confirmed."""
    deps: service.WorkerDeps = ctx[JOB_DEPS]
    settings: ExpirySettings = ctx[JOB_SETTINGS]
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
