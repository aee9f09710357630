"""expiration's use cases: schedule an order's expiry, announce it when due."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.expiration.domain import expiry_job_id
from services.expiration.metrics import EXPIRY_JOBS, EXPIRY_LATENESS
from services.expiration.ports import Clock, EventPublisher, ExpiryJobs
from shared.events import ExpirationComplete, OrderCreated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListenerDeps:
    jobs: ExpiryJobs
    clock: Clock


@dataclass(frozen=True)
class WorkerDeps:
    publisher: EventPublisher
    clock: Clock


async def schedule_expiry(event: OrderCreated, *, deps: ListenerDeps) -> None:
    """Have the order expire at its ``expiresAt`` (at once if that has passed). Replay-safe."""
    if await deps.jobs.schedule(event.id, event.expires_at):
        EXPIRY_JOBS.labels("enqueued").inc()
        delay_ms = (event.expires_at - deps.clock.now()).total_seconds() * 1000
        log.info("order %s expires in %d ms", event.id, delay_ms)
    else:
        EXPIRY_JOBS.labels("duplicate").inc()
        log.info("order %s already has its expiry job", event.id)


async def announce_expiration(order_id: str, expires_at_ms: int, *, deps: WorkerDeps) -> None:
    """Publish ``expiration.complete``; ``PublishFailed`` unless the broker confirmed it.

    This service has no database: the arq job is its outbox. The job leaves Redis only
    when this returns, so an unconfirmed event is retried, never lost. A copy sent again
    after a lost confirm is harmless: every try sends the same message id, and orders
    (the only consumer) leaves an order that is already cancelled or complete alone.
    """
    await deps.publisher.publish_event(
        ExpirationComplete(order_id=order_id), message_id=expiry_job_id(order_id)
    )
    lateness_ms = deps.clock.now().timestamp() * 1000 - expires_at_ms
    EXPIRY_JOBS.labels("fired").inc()
    EXPIRY_LATENESS.observe(max(lateness_ms, 0) / 1000)
    log.info("order %s expired, %d ms after its expiresAt", order_id, lateness_ms)
