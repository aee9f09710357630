"""How late do our orders expire, beside how late raw arq runs a deferred job?

The figure the expiration tests used to bound (500 ms) lives here, next to a peer's: the
same number of jobs due at the same spread of times, on the same Redis, with the same
``poll_delay``, run by

- ours: ``order.created`` published to RabbitMQ, the expiration listener enqueues the
  arq job, the worker runs it and publishes ``expiration.complete`` with a confirm; the
  lateness is when that event reached a queue on the exchange, minus ``expiresAt``;
- raw arq: the job enqueued directly with ``_defer_until``, a bare arq ``Worker`` whose
  job only notes the time; the lateness is when the job ran, minus its due time.

The gap between the two is what our path adds after arq's polling: the publish with its
confirm and the delivery to a consumer's queue (the order.created hop is over before the
due time). Runs against ``AMQP_URL`` / ``REDIS_URL`` (default: the local
ones) on an exchange, queues and arq queues of its own, removed afterwards.

    .venv/bin/python bench/expiration_vs_arq.py [--jobs 200] [--hold-from-s 1]
        [--hold-to-s 3] [--poll-delay-s 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from aiohttp import web
from arq.worker import Worker, func
from bson import ObjectId

from deploy.local.hosts import DEFAULT_AMQP_URL, DEFAULT_REDIS_URL
from services.expiration.adapters.jobs import dump_job, load_job, open_redis
from services.expiration.bootstrap import create_listener, create_worker
from services.expiration.config import SERVICE, ExpirySettings, RedisSettings, Settings
from shared.events import ExpirationComplete, OrderCreated, OrderStatus, TicketRef, decode
from shared.logging import LogSettings
from shared.messaging import AmqpSettings, Topology, connect
from shared.testing.events import event_publisher
from shared.testing.services import until_open
from shared.web import HttpSettings


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` % of the values at or below it."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def due_times(count: int, hold_from_s: float, hold_to_s: float) -> list[datetime]:
    now = datetime.now(UTC)
    step_s = (hold_to_s - hold_from_s) / max(count - 1, 1)
    return [now + timedelta(seconds=hold_from_s + i * step_s) for i in range(count)]


def bench_settings(poll_delay_s: float) -> Settings:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    return Settings(
        http=HttpSettings(),
        log=LogSettings(),
        amqp=AmqpSettings(url=os.environ.get("AMQP_URL", DEFAULT_AMQP_URL), namespace=namespace),
        redis=RedisSettings(url=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)),
        expiry=ExpirySettings(queue_name=f"arq:{namespace}.expiration", poll_delay_s=poll_delay_s),
    )


async def ours(settings: Settings, due: list[datetime], timeout_s: float) -> list[float]:
    """Lateness in ms of each order's ``expiration.complete``, as it reaches a queue."""
    batch = [
        OrderCreated(
            id=str(ObjectId()),
            version=0,
            status=OrderStatus.CREATED,
            user_id=str(ObjectId()),
            expires_at=at,
            ticket=TicketRef(id=str(ObjectId()), price_cents=2000),
        )
        for at in due
    ]
    topology = Topology.from_settings(settings.amqp)
    arrivals: dict[str, float] = {}
    all_arrived = asyncio.Event()

    async def on_expiry(message: AbstractIncomingMessage) -> None:
        arrived_s = time.time()
        async with message.process():
            event = decode(message.type or "", message.body)
            assert isinstance(event, ExpirationComplete)
            arrivals.setdefault(event.order_id, arrived_s)
            if len(arrivals) == len(batch):
                all_arrived.set()

    connection = await connect(settings.amqp.url, connection_name="expiration-bench")
    channel = await connection.channel()
    runners: list[web.AppRunner] = []
    try:
        exchange = await topology.declare_exchange(channel)
        tap = await channel.declare_queue(exclusive=True, auto_delete=True)
        await tap.bind(exchange, routing_key=ExpirationComplete.routing_key)
        await tap.consume(on_expiry)
        for create in (create_listener, create_worker):
            runner = web.AppRunner(create(settings))
            await runner.setup()
            runners.append(runner)
            await until_open(runner.app)  # consumer, publisher, arq worker
        async with event_publisher(settings.amqp) as publisher:
            for order in batch:
                await publisher.publish_event(order)
        await asyncio.wait_for(all_arrived.wait(), timeout_s)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        names = topology.queue_names(SERVICE)
        for queue in (names.main, names.retry, names.parked):
            await channel.queue_delete(queue)
        await channel.exchange_delete(topology.exchange_name)
        await connection.close()
    return [arrivals[o.id] * 1000 - o.expires_at.timestamp() * 1000 for o in batch]


async def raw_arq(settings: Settings, due: list[datetime], timeout_s: float) -> list[float]:
    """Lateness in ms of each deferred job's run, on a bare arq worker."""
    queue = f"{settings.expiry.queue_name}.peer"
    ran: dict[str, float] = {}
    all_ran = asyncio.Event()

    async def note(ctx: dict[str, Any], job: str) -> None:
        ran.setdefault(job, time.time())
        if len(ran) == len(due):
            all_ran.set()

    async with open_redis(settings.redis) as redis:
        worker = Worker(
            [func(note, name="note")],
            queue_name=queue,
            redis_pool=redis,
            handle_signals=False,
            poll_delay=settings.expiry.poll_delay_s,
            max_jobs=settings.expiry.max_jobs,
            keep_result=0,
            job_serializer=dump_job,
            job_deserializer=load_job,
        )
        running = asyncio.create_task(worker.async_run())
        try:
            names = [f"peer:{uuid.uuid4().hex}" for _ in due]
            for name, at in zip(names, due, strict=True):
                await redis.enqueue_job(
                    "note", name, _job_id=name, _queue_name=queue, _defer_until=at
                )
            await asyncio.wait_for(all_ran.wait(), timeout_s)
        finally:
            # Under Python 3.11 one cancel may be swallowed by redis-py's wait_for (see
            # services/expiration/worker/supervisor.py), so ask until it is done.
            while not running.done():
                running.cancel()
                await asyncio.wait([running], timeout=0.5)
            # Cancelling the poll loop cancels its job tasks' bookkeeping too; that is fine here.
            await asyncio.gather(worker.close(), return_exceptions=True)
            await redis.delete(queue)
    return [ran[name] * 1000 - at.timestamp() * 1000 for name, at in zip(names, due, strict=True)]


def line(name: str, lateness_ms: list[float]) -> str:
    ordered = sorted(lateness_ms)
    return (
        f"  {name:<8} n={len(ordered)}  p50 {percentile(ordered, 50):4.0f} ms  "
        f"p95 {percentile(ordered, 95):4.0f} ms  p99 {percentile(ordered, 99):4.0f} ms  "
        f"max {ordered[-1]:4.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--hold-from-s", type=float, default=1.0)
    parser.add_argument("--hold-to-s", type=float, default=3.0)
    # The worker's shipped default unless given: the bench measures what ships.
    parser.add_argument("--poll-delay-s", type=float, default=ExpirySettings.poll_delay_s)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = bench_settings(args.poll_delay_s)
    timeout_s = args.hold_to_s + 30
    # One after the other, so neither takes the other's CPU.
    ours_ms = asyncio.run(
        ours(settings, due_times(args.jobs, args.hold_from_s, args.hold_to_s), timeout_s)
    )
    arq_ms = asyncio.run(
        raw_arq(settings, due_times(args.jobs, args.hold_from_s, args.hold_to_s), timeout_s)
    )
    print(
        f"lateness after the due time: holds {args.hold_from_s:g}-{args.hold_to_s:g} s, "
        f"poll_delay {settings.expiry.poll_delay_s:g} s, max_jobs {settings.expiry.max_jobs}"
    )
    print(line("ours", ours_ms))
    print(line("raw arq", arq_ms))
    gap = percentile(sorted(ours_ms), 50) - percentile(sorted(arq_ms), 50)
    print(f"  ours adds {gap:.0f} ms at p50 (the confirmed publish and its delivery)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
