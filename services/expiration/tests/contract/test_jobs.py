"""One contract for ``ports.ExpiryJobs``, run against arq on the real Redis and against the
in-memory twin the unit tests use: one job per order, whatever asks for it again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from arq.connections import ArqRedis
from bson import ObjectId

from services.expiration.adapters.jobs import ArqExpiryJobs
from services.expiration.adapters.memory import InMemoryExpiryJobs
from services.expiration.ports import ExpiryJobs


@pytest.fixture(params=["memory", "arq"])
def redis_or_not(request: pytest.FixtureRequest) -> ArqRedis | None:
    # Asked for here, synchronously: an async fixture cannot ask for another one by name.
    return request.getfixturevalue("redis") if request.param == "arq" else None


@pytest.fixture
async def jobs(redis_or_not: ArqRedis | None, amqp_namespace: str) -> AsyncIterator[ExpiryJobs]:
    if redis_or_not is None:
        yield InMemoryExpiryJobs()
        return
    queue = f"arq:{amqp_namespace}.contract"
    yield ArqExpiryJobs(redis_or_not, queue)
    await redis_or_not.delete(queue)  # no worker runs this queue; the job keys expire


async def test_an_order_gets_one_job_however_often_it_is_scheduled(jobs: ExpiryJobs) -> None:
    order_id = str(ObjectId())
    expires_at = datetime.now(UTC) + timedelta(minutes=15)

    assert await jobs.schedule(order_id, expires_at)
    assert not await jobs.schedule(order_id, expires_at)
    assert not await jobs.schedule(order_id, expires_at + timedelta(minutes=1))
    assert await jobs.schedule(str(ObjectId()), expires_at)


async def test_an_overdue_order_is_scheduled_too(jobs: ExpiryJobs) -> None:
    assert await jobs.schedule(str(ObjectId()), datetime.now(UTC) - timedelta(days=2))
