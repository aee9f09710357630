"""expiration's use cases and listener on the in-memory twins: no broker, no Redis."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from arq.worker import Retry
from bson import ObjectId

from services.expiration import listeners, service
from services.expiration.adapters.memory import FixedClock, InMemoryExpiryJobs, RecordingPublisher
from services.expiration.config import ExpirySettings
from services.expiration.domain import expiry_job_id
from services.expiration.tests.conftest import order_created
from services.expiration.worker.jobs import JOB_DEPS, JOB_SETTINGS, expire_order
from shared.events import ExpirationComplete
from shared.messaging import Delivery, PublishFailed


def delivery(message_id: str) -> Delivery:
    return Delivery(message_id=message_id, routing_key="order.created", attempt=1, headers={})


async def test_an_order_created_schedules_one_job_at_its_expires_at_whatever_its_message_id() -> (
    None
):
    jobs = InMemoryExpiryJobs()
    deps = service.ListenerDeps(jobs=jobs, clock=FixedClock())
    order = order_created(expires_in_s=60)

    for message_id in ("m-1", "m-1", "m-2"):  # a redelivery, then a re-publish
        await listeners.on_order_created(order, delivery(message_id), deps=deps)

    assert jobs.due == {expiry_job_id(order.id): order.expires_at}


async def test_the_expiry_is_published_under_the_job_id_every_time() -> None:
    publisher = RecordingPublisher()
    clock = FixedClock()
    deps = service.WorkerDeps(publisher=publisher, clock=clock)
    order_id = str(ObjectId())
    expires_at_ms = round((clock.at - timedelta(seconds=1)).timestamp() * 1000)

    await service.announce_expiration(order_id, expires_at_ms, deps=deps)
    await service.announce_expiration(order_id, expires_at_ms, deps=deps)  # a retried job

    expected = (ExpirationComplete(order_id=order_id), expiry_job_id(order_id))
    assert publisher.published == [expected, expected]


async def test_an_unconfirmed_expiry_fails_the_job_so_that_it_is_retried() -> None:
    deps = service.WorkerDeps(publisher=RecordingPublisher(refusing=True), clock=FixedClock())

    with pytest.raises(PublishFailed):
        await service.announce_expiration(str(ObjectId()), 0, deps=deps)


async def test_the_job_asks_arq_to_retry_an_unconfirmed_expiry_later_until_its_last_try() -> None:
    settings = ExpirySettings(max_tries=3, first_retry_delay_s=0.5, max_retry_delay_s=30.0)
    deps = service.WorkerDeps(publisher=RecordingPublisher(refusing=True), clock=FixedClock())
    ctx: dict[str, Any] = {JOB_DEPS: deps, JOB_SETTINGS: settings}

    with pytest.raises(Retry) as retry:
        await expire_order({**ctx, "job_try": 2}, str(ObjectId()), 0)
    assert retry.value.defer_score == 1000  # 0.5 s doubled once, in arq's milliseconds
    with pytest.raises(PublishFailed):
        await expire_order({**ctx, "job_try": 3}, str(ObjectId()), 0)
