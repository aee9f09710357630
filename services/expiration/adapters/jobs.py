"""The expiry jobs in Redis, through arq: one job per order, due at its ``expiresAt``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.expiration.config import RedisSettings
from services.expiration.domain import expiry_job_id
from shared.messaging import RetryLater

# The arq function name both processes agree on: the listener enqueues it, the worker runs it.
EXPIRE_ORDER = "expire_order"
# No Redis command we send should take long; without a bound a hung server hangs the caller.
SOCKET_TIMEOUT_S = 5.0


def dump_job(data: dict[str, Any]) -> bytes:
    """Jobs and results as JSON, not arq's default pickle: whoever can write to Redis
    could otherwise make the worker run code of their choosing when it loads a job."""
    return json.dumps(data, separators=(",", ":")).encode()


def load_job(raw: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return data


@asynccontextmanager
async def open_redis(settings: RedisSettings) -> AsyncIterator[ArqRedis]:
    """An arq client that connects on first use, closed on exit.

    Unlike ``arq.create_pool`` it does not ping (and retry) at start: a Redis that is
    down shows in ``/readyz`` instead of stopping the process.
    """
    arq = settings.arq
    redis = ArqRedis(
        host=arq.host,
        port=arq.port,
        unix_socket_path=arq.unix_socket_path,
        db=arq.database,
        username=arq.username,
        password=arq.password,
        ssl=arq.ssl,
        socket_connect_timeout=arq.conn_timeout,
        socket_timeout=SOCKET_TIMEOUT_S,
        job_serializer=dump_job,
        job_deserializer=load_job,
    )
    try:
        yield redis
    finally:
        await redis.aclose()


async def ping(redis: ArqRedis) -> None:
    """Raise unless Redis answers (a readiness check)."""
    await redis.ping()


class ArqExpiryJobs:
    """``ports.ExpiryJobs`` on one arq queue."""

    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self._redis = redis
        self._queue_name = queue_name

    async def schedule(self, order_id: str, expires_at: datetime) -> bool:
        """Enqueue the order's job, due at ``expires_at``; False if it has one already.

        "Already" includes a job that fired less than the worker's ``keep_result``
        ago. An unreachable Redis raises ``RetryLater``.
        """
        # arq keeps a job's data until its due time plus a day; a due time far in the
        # past would make that negative, so an overdue order is simply due now.
        due = max(expires_at, datetime.now(UTC))
        expires_at_ms = round(expires_at.timestamp() * 1000)
        try:
            job = await self._redis.enqueue_job(
                EXPIRE_ORDER,
                order_id,
                expires_at_ms,
                _job_id=expiry_job_id(order_id),
                _queue_name=self._queue_name,
                _defer_until=due,
            )
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise RetryLater(f"Redis unreachable scheduling order {order_id}: {exc}") from exc
        return job is not None
