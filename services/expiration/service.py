"""expiration's use cases: schedule an order's expiry, announce it when due."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from services.expiration.adapters.jobs import ArqExpiryJobs, expiry_job_id
from services.expiration.metrics import EXPIRY_JOBS, EXPIRY_LATENESS
from shared.events import ExpirationComplete, OrderCreated
from shared.messaging import Publisher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListenerDeps:
    jobs: ArqExpiryJobs


@dataclass(frozen=True)
class WorkerDeps:
    publisher: Publisher


async def schedule_expiry(event: OrderCreated, *, deps: ListenerDeps) -> None:
    """Have the order expire at its ``expiresAt`` (at once if that has passed). Replay-safe."""
    if await deps.jobs.schedule(event.id, event.expires_at):
        EXPIRY_JOBS.labels("enqueued").inc()
        delay_ms = (event.expires_at - datetime.now(UTC)).total_seconds() * 1000
        log.info("order %s expires in %d ms", event.id, delay_ms)
    else:
        EXPIRY_JOBS.labels("duplicate").inc()
        log.info("order %s already has its expiry job", event.id)


async def announce_expiration(order_id: str, expires_at_ms: int, *, deps: WorkerDeps) -> None:
    """Publish ``expiration.complete``; ``PublishFailed`` unless the broker confirmed it.

    This service has no database: the arq job is its outbox. The job leaves Redis only
    when this returns, so an unconfirmed event is retried, never lost. Every try sends
    the same message id, so a copy sent again after a lost confirm is dropped by the
    consumer's inbox.
    """
    await deps.publisher.publish_event(
        ExpirationComplete(order_id=order_id), message_id=expiry_job_id(order_id)
    )
    lateness_ms = time.time() * 1000 - expires_at_ms
    EXPIRY_JOBS.labels("fired").inc()
    EXPIRY_LATENESS.observe(max(lateness_ms, 0) / 1000)
    log.info("order %s expired, %d ms after its expiresAt", order_id, lateness_ms)
